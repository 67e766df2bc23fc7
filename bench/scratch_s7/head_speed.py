"""Untrained `mg stem=phase fold=half` with a narrower up-path (channels of the last two up convs), int8.
TAG: c1,c2[,blocks]  (the teacher: 16,8)"""
import sys
from pathlib import Path
import torch.nn as nn
from framestyle.nets import build
from framestyle.export.onnx import export_onnx
from framestyle.shrink.quantize import quantize_file, calibration_images
cal = calibration_images()
for tag in sys.argv[1:]:
    c1, c2, *b = (int(t) for t in tag.split(","))
    net = build("mg", stem="phase", fold="half", blocks=b[0] if b else 5).eval()
    net.head[0] = nn.Conv2d(32, c1 * 4, 3, padding=1)
    net.head[1] = nn.Conv2d(c1 * 4, c2 * 16, 3, padding=1)
    net.head[2] = nn.Conv2d(c2 * 16, 48, 3, padding=1)
    net = net.for_export()
    p = Path(f"runs/s7/h_{tag.replace(',', '_')}.onnx"); export_onnx(net, p, multiple=4)
    quantize_file(p, p.with_name(p.stem + "_q.onnx"), "int8", cal[:6], 8)
    print(p)
