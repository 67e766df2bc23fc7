"""Magenta-style conditional nets: instance norm whose scale/shift come from a style input.

`ConditionalFast` takes (image, style_vector[100]) and is the arbitrary-style student.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .blocks import width as _w
from .registry import register


class CondIN(nn.Module):
    def __init__(self, ch: int, style_dim: int):
        super().__init__()
        self.norm = nn.InstanceNorm2d(ch, affine=False)
        self.gamma = nn.Linear(style_dim, ch)
        self.beta = nn.Linear(style_dim, ch)
        nn.init.zeros_(self.gamma.weight)
        nn.init.ones_(self.gamma.bias)
        nn.init.zeros_(self.beta.weight)
        nn.init.zeros_(self.beta.bias)

    def forward(self, x, s):
        return self.norm(x) * self.gamma(s)[:, :, None, None] + self.beta(s)[:, :, None, None]


class _CondBlock(nn.Module):
    def __init__(self, ch, dilation, style_dim):
        super().__init__()
        self.dw = nn.Conv2d(ch, ch, 3, padding=dilation, dilation=dilation, groups=ch, bias=False)
        self.cin = CondIN(ch, style_dim)
        self.pw = nn.Conv2d(ch, ch, 1)

    def forward(self, x, s):
        return x + self.pw(torch.relu(self.cin(self.dw(x), s)))


class ConditionalFast(nn.Module):
    def __init__(self, alpha: float = 1.0, blocks: int = 6, style_dim: int = 100, factor: int = 4):
        super().__init__()
        ch = _w(64, alpha, 8)
        self.factor = self.multiple = factor  # H,W must be multiples of factor
        self.stem = nn.Conv2d(3, ch, factor, stride=factor)
        dil = [1, 2, 4, 1, 2, 4, 1, 2]
        self.blocks = nn.ModuleList([_CondBlock(ch, dil[i % len(dil)], style_dim) for i in range(blocks)])
        self.head = nn.Conv2d(ch, 3 * factor * factor, 1)
        self.shuffle = nn.PixelShuffle(factor)

    def forward(self, x, style):
        s = style.reshape(style.shape[0], -1)
        y = torch.relu(self.stem(x))
        for b in self.blocks:
            y = b(y, s)
        return torch.sigmoid(self.shuffle(self.head(y)) + 4.0 * (x - 0.5))


@register("cond-fast")
def cond_fast(alpha: float = 1.0, blocks: int = 6):
    return ConditionalFast(alpha=alpha, blocks=blocks)
