import sys
from pathlib import Path
from framestyle.nets import build
from framestyle.export.onnx import export_onnx
from framestyle.shrink.quantize import quantize_file, calibration_images
cal = calibration_images()
for tag in sys.argv[1:]:
    kw = dict(a.split("=") for a in tag.split(",") if a)
    net = build("mg", **kw).eval().for_export()
    p = Path(f"runs/s6/m_{tag or 'base'}.onnx"); export_onnx(net, p, multiple=4)
    quantize_file(p, p.with_name(p.stem + "_q.onnx"), "int8", cal[:6], 8)
