import numpy as np, torch.nn as nn
from pathlib import Path
from framestyle.nets import build
from framestyle.train.arbitrary import export_student
from framestyle.shrink.quantize import quantize_file, calibration_images
cal = calibration_images()
rng = np.random.default_rng(0); styles = [rng.normal(size=100).astype(np.float32) for _ in range(6)]
net = build("cond-mg").eval()
net.stem = nn.Sequential(nn.PixelUnshuffle(2), nn.Conv2d(12, 32, 5, padding=2), nn.ReLU(), nn.Conv2d(32, 16, 3, padding=1),
                         nn.ReLU(), nn.Conv2d(16, 32, 3, 2, padding=1), nn.ReLU())
p = Path("runs/s6/c_phasestem.onnx"); export_student(net, p)
quantize_file(p, p.with_name(p.stem + "_q.onnx"), "int8", cal[:6], 8, styles)
