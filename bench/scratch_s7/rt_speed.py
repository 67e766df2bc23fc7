"""Untrained `mg stem=phase fold=half` variants exported + int8 for interleaved timing (tm.py).
Usage: rt_speed.py TAG...  TAG: comma list of mg arch args, plus `s2dfloat` (the one-hot SpaceToDepth conv
left in float)."""
import sys
from pathlib import Path
from framestyle.nets import build
from framestyle.export.onnx import export_onnx
from framestyle.shrink.quantize import quantize_file, calibration_images
cal = calibration_images()
for tag in sys.argv[1:]:
    parts = [a for a in tag.split(",") if a]
    kw = dict(stem="phase", fold="half"); kw.update(a.split("=") for a in parts if "=" in a)
    net = build("mg", **kw).eval().for_export()
    p = Path(f"runs/s7/v_{tag or 'base'}.onnx"); export_onnx(net, p, multiple=4)
    keep = ["/stem/stem.0/Conv"] if "s2dfloat" in parts else []
    quantize_file(p, p.with_name(p.stem + "_q.onnx"), "int8", cal[:6], 8, keep_float=keep)
    print(p)
