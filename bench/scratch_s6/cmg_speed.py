import sys, numpy as np
from pathlib import Path
from framestyle.nets import build
from framestyle.train.arbitrary import export_student
from framestyle.shrink.quantize import quantize_file, calibration_images
cal = calibration_images()
rng = np.random.default_rng(0); styles = [rng.normal(size=100).astype(np.float32) for _ in range(6)]
for tag in sys.argv[1:]:
    kw = dict(a.split("=") for a in tag.split(",") if a)
    net = build("cond-mg", **kw).eval()
    p = Path(f"runs/s6/c_{tag or 'base'}.onnx"); export_student(net, p)
    quantize_file(p, p.with_name(p.stem + "_q.onnx"), "int8", cal[:6], 8, styles)
