"""Johnson et al. TransformerNet with a width multiplier alpha (1.0 = the 1.68M-parameter original)."""
from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F

from .blocks import ConvNormAct, width
from .registry import register


class _Res(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.a = ConvNormAct(ch, ch, 3)
        self.b = ConvNormAct(ch, ch, 3, act=False)

    def forward(self, x):
        return x + self.b(self.a(x))


class _Up(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = ConvNormAct(cin, cout, 3)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Johnson(nn.Module):
    def __init__(self, alpha: float = 1.0, res_blocks: int = 5):
        super().__init__()
        c1, c2, c3 = width(32, alpha), width(64, alpha), width(128, alpha)
        self.net = nn.Sequential(
            ConvNormAct(3, c1, 9), ConvNormAct(c1, c2, 3, stride=2), ConvNormAct(c2, c3, 3, stride=2),
            *[_Res(c3) for _ in range(res_blocks)],
            _Up(c3, c2), _Up(c2, c1),
            nn.ReflectionPad2d(4), nn.Conv2d(c1, 3, 9),
        )
        self.multiple = 4

    def forward(self, x):
        return self.net(x).sigmoid()


@register("johnson")
def johnson(alpha: float = 1.0, res_blocks: int = 5):
    return Johnson(alpha=alpha, res_blocks=res_blocks)


@register("johnson-quarter")
def johnson_quarter(alpha: float = 0.25, res_blocks: int = 5):
    return Johnson(alpha=alpha, res_blocks=res_blocks)
