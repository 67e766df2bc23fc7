import numpy as np, torch, torch.nn as nn
from pathlib import Path
from framestyle.nets import build
from framestyle.train.arbitrary import export_student
from framestyle.shrink.quantize import quantize_file, calibration_images
cal = calibration_images()
rng = np.random.default_rng(0); styles = [rng.normal(size=100).astype(np.float32) for _ in range(6)]
net = build("cond-mg", stem="phase").eval()
s2d = nn.Conv2d(3, 12, 2, 2, bias=False)
with torch.no_grad():
    s2d.weight.zero_()
    for c in range(3):
        for qy in range(2):
            for qx in range(2):
                s2d.weight[c * 4 + qy * 2 + qx, c, qy, qx] = 1
x = torch.rand(1, 3, 8, 12)
print(float((s2d(x) - nn.PixelUnshuffle(2)(x)).abs().max()))
net.stem[0] = s2d
p = Path("runs/s6/c_s2dconv.onnx"); export_student(net, p)
quantize_file(p, p.with_name(p.stem + "_q.onnx"), "int8", cal[:6], 8, styles)
net2 = build("cond-mg", stem="phase").eval(); p2 = Path("runs/s6/c_phase2.onnx"); export_student(net2, p2)
quantize_file(p2, p2.with_name(p2.stem + "_q.onnx"), "int8", cal[:6], 8, styles)
