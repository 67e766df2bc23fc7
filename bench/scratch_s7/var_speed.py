"""Untrained `mg stem=phase fold=half` variants with this session's export (byte-exact ends), int8, for tm_u8.py.
TAG: comma list of mg arch args (up=16_4 for up=16,4) plus `stem3` (the phase stem's 5x5 conv as a 3x3)."""
import sys
from pathlib import Path
import torch.nn as nn
from framestyle.nets import build
from framestyle.export.onnx import export_onnx
from framestyle.shrink.quantize import quantize_file, calibration_images
cal = calibration_images()
for tag in sys.argv[1:]:
    parts = [a for a in tag.split(",") if a]
    kw = dict(stem="phase", fold="half")
    kw.update((k, v.replace("_", ",")) for k, v in (a.split("=") for a in parts if "=" in a))
    net = build("mg", **kw).eval()
    if "stem3" in parts:
        net.stem[1] = nn.Conv2d(12, 32, 3, padding=1)
    net = net.for_export()
    p = Path(f"runs/s7/w_{tag or 'base'}.onnx"); export_onnx(net, p, multiple=4)
    quantize_file(p, p.with_name(p.stem + "_q.onnx"), "int8", cal[:6], 8)
    print(p)
