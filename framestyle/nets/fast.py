"""Fast high-resolution student: almost all compute at 1/4 resolution.

Stride-4 patch conv in (space-to-depth + linear), separable residual blocks with dilations and a
couple of instance norms (global colour statistics, as the teachers have), a 1x1 head to 3x16
channels and depth-to-space back to full resolution, plus a full-resolution input skip with a learned gain.
Budget: about 1 kMAC per output pixel at width 48. `ctx` > 0 adds a context branch at 1/16 resolution
(that many dilated blocks, added back half-way up the body): a wider view for a few percent more compute.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .blocks import DILATIONS as dil, width as _w
from .registry import register


class _Block(nn.Module):
    def __init__(self, ch: int, dilation: int, norm: bool):
        super().__init__()
        self.dw = nn.Conv2d(ch, ch, 3, padding=dilation, dilation=dilation, groups=ch, bias=False)
        self.norm = nn.InstanceNorm2d(ch, affine=True) if norm else nn.Identity()
        self.pw = nn.Conv2d(ch, ch, 1)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return x + self.pw(self.act(self.norm(self.dw(x))))


class FastStudent(nn.Module):
    def __init__(self, alpha: float = 1.0, blocks: int = 6, factor: int = 4, base: int = 48, ctx: int = 0,
                 norm_every: int = 3):
        super().__init__()
        ch = _w(base, alpha, 8)
        self.factor = factor
        self.stem = nn.Conv2d(3, ch, factor, stride=factor)
        self.stem_act = nn.ReLU(inplace=True)
        self.body = nn.Sequential(*[_Block(ch, dil[i % len(dil)], norm=(i % norm_every == 0)) for i in range(blocks)])
        self.mid = blocks // 2
        self.ctx = None
        if ctx:
            self.ctx = nn.Sequential(nn.Conv2d(ch, ch, 4, stride=4), nn.ReLU(inplace=True),
                                     *[_Block(ch, (1, 2, 4)[i % 3], norm=(i % 2 == 0)) for i in range(ctx)],
                                     nn.Conv2d(ch, ch, 1))
        self.head = nn.Conv2d(ch, 3 * factor * factor, 1)
        self.shuffle = nn.PixelShuffle(factor)
        # learned gain of a full-resolution input skip (starts at 0: a fixed skip made students lazy copies)
        self.skip = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        y = self.stem_act(self.stem(x))
        if self.ctx is None:
            y = self.body(y)
        else:
            y = self.body[:self.mid](y)
            y = y + F.interpolate(self.ctx(y), size=y.shape[-2:], mode="bilinear", align_corners=False)
            y = self.body[self.mid:](y)
        y = self.shuffle(self.head(y))
        return torch.sigmoid(y + self.skip * (x - 0.5))


@register("fast")
def fast(alpha: float = 1.0, blocks: int = 6, ctx: int = 0, norm_every: int = 3):
    return FastStudent(alpha=alpha, blocks=int(blocks), ctx=int(ctx), norm_every=int(norm_every))


@register("fast-tiny")
def fast_tiny(alpha: float = 0.67, blocks: int = 4):
    return FastStudent(alpha=alpha, blocks=blocks)


@register("fast8")
def fast8(alpha: float = 1.5, blocks: int = 6):
    """Body at 1/8 resolution: the cheapest net for 720p and above."""
    return FastStudent(alpha=alpha, blocks=blocks, factor=8, base=48)
