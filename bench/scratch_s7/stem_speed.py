"""Untrained `mg stem=phase fold=half` with other stem forms (same output at 1/4 res, 32 ch), int8, for tm.py.
q12: Conv 3->128 12x12 stride 4 (the 9x9 conv's 4x4 phases), 128->64 3x3 (the stride-2 conv's 2x2 phases),
64->32 3x3; q12p: the last two as 2x2 convs after a top/left zero pad (only the taps they need);
s2d4: one-hot 4x4 stride-4 conv to 48 ch, then 48->128 3x3, then as q12."""
import sys
from pathlib import Path
import torch, torch.nn as nn, torch.nn.functional as F
from framestyle.nets import build
from framestyle.export.onnx import export_onnx
from framestyle.shrink.quantize import quantize_file, calibration_images


class PadConv(nn.Module):
    def __init__(self, ci, co):
        super().__init__(); self.conv = nn.Conv2d(ci, co, 2)
    def forward(self, x):
        return self.conv(F.pad(x, (1, 0, 1, 0)))


def s2d4():
    c = nn.Conv2d(3, 48, 4, 4, bias=False)
    with torch.no_grad():
        c.weight.zero_()
        for ch in range(3):
            for qy in range(4):
                for qx in range(4):
                    c.weight[ch * 16 + qy * 4 + qx, ch, qy, qx] = 1
    return c


STEMS = {
    "q12": lambda: nn.Sequential(nn.Conv2d(3, 128, 12, 4, padding=4), nn.ReLU(), nn.Conv2d(128, 64, 3, padding=1),
                                 nn.ReLU(), nn.Conv2d(64, 32, 3, padding=1), nn.ReLU()),
    "q12p": lambda: nn.Sequential(nn.Conv2d(3, 128, 12, 4, padding=4), nn.ReLU(), PadConv(128, 64), nn.ReLU(),
                                  PadConv(64, 32), nn.ReLU()),
    "s2d4d2s": lambda: nn.Sequential(s2d4(), nn.Conv2d(48, 128, 3, padding=1), nn.ReLU(), nn.PixelShuffle(2),
                                     nn.Conv2d(32, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, padding=1),
                                     nn.ReLU()),
    "s2d4": lambda: nn.Sequential(s2d4(), nn.Conv2d(48, 128, 3, padding=1), nn.ReLU(), nn.Conv2d(128, 64, 3, padding=1),
                                  nn.ReLU(), nn.Conv2d(64, 32, 3, padding=1), nn.ReLU()),
}
cal = calibration_images()
for tag in sys.argv[1:]:
    net = build("mg", stem="phase", fold="half").eval()
    net.stem = STEMS[tag]()
    net = net.for_export()
    p = Path(f"runs/s7/st_{tag}.onnx"); export_onnx(net, p, multiple=4)
    quantize_file(p, p.with_name(p.stem + "_q.onnx"), "int8", cal[:6], 8)
    print(p)
