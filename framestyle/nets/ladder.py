"""Ladder student: the teacher's stride-2 stages made cheap.

multistyle26 works at full, 1/2 and 1/4 resolution (9x9 conv, two stride-2 convs, residual blocks, two
upsample+conv stages, 9x9 conv out). The `fast` student jumps straight to 1/4 and back with a 1x1 head, so
every 4x4 output block is a linear function of one feature vector. The ladder keeps a thin 1/2-resolution
rung on both sides (stride-2 conv in, a separable block, a skip from the encoder rung to the decoder rung)
and a 3x3 conv + pixel shuffle out, while the body stays at 1/4 like `fast`.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .blocks import DILATIONS as dil, width as _w
from .fast import _Block
from .registry import register


class Ladder(nn.Module):
    def __init__(self, alpha: float = 1.0, blocks: int = 6, half: int = 16, base: int = 48, half_blocks: int = 1,
                 norm_every: int = 3, full: int = 0):
        super().__init__()
        ch = _w(base, alpha, 8)
        self.multiple = 4
        self.full = full
        cin = full or 3
        if full:  # thin full-resolution rung: 3x3 conv in, skip to a 3x3 conv out
            self.enc0 = nn.Sequential(nn.Conv2d(3, full, 3, padding=1), nn.ReLU(inplace=True))
        self.down1 = nn.Sequential(nn.Conv2d(cin, half, 4, stride=2, padding=1), nn.ReLU(inplace=True))
        self.enc = nn.Sequential(*[_Block(half, 1, norm=(i == 0)) for i in range(half_blocks)])
        self.down2 = nn.Sequential(nn.Conv2d(half, ch, 2, stride=2), nn.ReLU(inplace=True))
        self.body = nn.Sequential(*[_Block(ch, dil[i % len(dil)], norm=(i % norm_every == 0)) for i in range(blocks)])
        # a stride-2 transposed conv, not 1x1 conv + PixelShuffle: the same map (bar a per-phase bias), 3x faster in ORT
        self.up2 = nn.ConvTranspose2d(ch, half, 2, stride=2)
        self.dec = nn.Sequential(*[_Block(half, 2 if i == 0 else 1, norm=(i == 0)) for i in range(half_blocks)])
        # the head keeps a 3x3 conv + pixel shuffle: a 4x4 transposed conv scored 0.4 dB lower
        self.head = nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(half, 4 * (full or 3), 3, padding=1),
                                  nn.PixelShuffle(2))
        if full:
            self.out = nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(full, 3, 3, padding=1))
        self.skip = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        e0 = self.enc0(x) if self.full else x
        e1 = self.enc(self.down1(e0))
        y = self.body(self.down2(e1))
        y = self.head(self.dec(torch.relu(self.up2(y) + e1)))
        if self.full:
            y = self.out(y + e0)
        return torch.sigmoid(y + self.skip * (x - 0.5))


@register("ladder")
def ladder(alpha: float = 1.0, blocks: int = 6, half: int = 16, half_blocks: int = 1, norm_every: int = 3,
           full: int = 0):
    return Ladder(alpha=alpha, blocks=int(blocks), half=int(half), half_blocks=int(half_blocks),
                  norm_every=int(norm_every), full=int(full))
