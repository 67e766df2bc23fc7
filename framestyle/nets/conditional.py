"""Magenta-style conditional nets: instance norm whose scale/shift come from a style input.

`ConditionalFast` takes (image, style_vector[100]) and is the arbitrary-style student; `ConditionalLadder` adds
the ladder net's 1/2-resolution rungs (see ladder.py).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .blocks import DILATIONS as dil, width as _w
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


class ConditionalLadder(nn.Module):
    def __init__(self, alpha: float = 1.0, blocks: int = 6, half: int = 16, style_dim: int = 100):
        super().__init__()
        ch = _w(64, alpha, 8)
        self.multiple = 4
        self.down1 = nn.Conv2d(3, half, 4, stride=2, padding=1)
        self.enc = _CondBlock(half, 1, style_dim)
        self.down2 = nn.Conv2d(half, ch, 2, stride=2)
        self.blocks = nn.ModuleList([_CondBlock(ch, dil[i % len(dil)], style_dim) for i in range(blocks)])
        self.up2 = nn.ConvTranspose2d(ch, half, 2, stride=2)
        self.dec = _CondBlock(half, 2, style_dim)
        self.head = nn.Sequential(nn.Conv2d(half, 12, 3, padding=1), nn.PixelShuffle(2))
        self.skip = nn.Parameter(torch.full((1,), 4.0))  # the cond-fast student's fixed input skip, learned here

    def forward(self, x, style):
        s = style.reshape(style.shape[0], -1)
        e1 = self.enc(torch.relu(self.down1(x)), s)
        y = torch.relu(self.down2(e1))
        for b in self.blocks:
            y = b(y, s)
        y = self.dec(torch.relu(self.up2(y) + e1), s)
        return torch.sigmoid(self.head(torch.relu(y)) + self.skip * (x - 0.5))


@register("cond-ladder")
def cond_ladder(alpha: float = 1.0, blocks: int = 6, half: int = 16):
    return ConditionalLadder(alpha=alpha, blocks=int(blocks), half=int(half))
