"""The seed's Arm student (about 9k parameters): full-resolution 16 channels, separable residual blocks."""
from __future__ import annotations

import torch.nn as nn

from .blocks import SepConv, make_norm
from .registry import register


class _ArmBlock(nn.Module):
    def __init__(self, ch: int = 16, mid: int = 8, norm: str = "batch"):
        super().__init__()
        self.down = nn.Sequential(nn.Conv2d(ch, mid, 3, stride=2, padding=1), nn.ReLU(inplace=True))
        self.seps = nn.ModuleList([SepConv(mid, mid, d) for d in (1, 2, 1)])
        self.up_conv = nn.Sequential(nn.Conv2d(mid, ch, 3, padding=1), nn.ReLU(inplace=True))
        self.up = nn.ConvTranspose2d(ch, ch, 2, stride=2)
        self.norm = make_norm(norm, ch)

    def forward(self, x):
        y = self.down(x)
        for sep in self.seps:
            y = y + sep(y)
        y = self.up(self.up_conv(y))
        return self.norm(x + y)


class ArmStudent(nn.Module):
    def __init__(self, ch: int = 16, norm: str = "batch"):
        super().__init__()
        self.inp = nn.Sequential(nn.Conv2d(3, ch, 3, padding=1), nn.ReLU(inplace=True))
        self.blocks = nn.Sequential(_ArmBlock(ch, ch // 2, norm), _ArmBlock(ch, ch // 2, norm))
        self.sep = SepConv(ch, ch)
        self.out = nn.Conv2d(ch, 3, 3, padding=1)
        self.multiple = 4

    def forward(self, x):
        return self.out(self.sep(self.blocks(self.inp(x)))).sigmoid()


@register("arm")
def arm(ch: int = 16, norm: str = "batch"):
    return ArmStudent(ch=ch, norm=norm)
