"""Small U-Net with a MobileNet-style encoder (inverted residuals) for paired image-to-image."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .blocks import width
from .registry import register


class _InvRes(nn.Module):
    def __init__(self, cin, cout, stride, expand=4):
        super().__init__()
        mid = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.body = nn.Sequential(
            nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU6(inplace=True),
            nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False), nn.BatchNorm2d(mid), nn.ReLU6(inplace=True),
            nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout),
        )

    def forward(self, x):
        y = self.body(x)
        return x + y if self.use_res else y


class UNetSmall(nn.Module):
    def __init__(self, alpha: float = 1.0):
        super().__init__()
        c = [width(x, alpha) for x in (16, 24, 32, 64)]
        self.stem = nn.Sequential(nn.Conv2d(3, c[0], 3, 1, 1), nn.ReLU(inplace=True))
        self.e1 = nn.Sequential(_InvRes(c[0], c[1], 2), _InvRes(c[1], c[1], 1))   # 1/2
        self.e2 = nn.Sequential(_InvRes(c[1], c[2], 2), _InvRes(c[2], c[2], 1))   # 1/4
        self.e3 = nn.Sequential(_InvRes(c[2], c[3], 2), _InvRes(c[3], c[3], 1))   # 1/8
        self.d2 = self._dec(c[3] + c[2], c[2])
        self.d1 = self._dec(c[2] + c[1], c[1])
        self.d0 = self._dec(c[1] + c[0], c[0])
        self.out = nn.Conv2d(c[0], 3, 3, 1, 1)
        self.multiple = 8

    @staticmethod
    def _dec(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False), nn.Conv2d(cin, cout, 1),
                             nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    def forward(self, x):
        s0 = self.stem(x)
        s1 = self.e1(s0)
        s2 = self.e2(s1)
        s3 = self.e3(s2)
        up = lambda t: F.interpolate(t, scale_factor=2.0, mode="nearest")  # noqa: E731
        y = self.d2(torch.cat([up(s3), s2], 1))
        y = self.d1(torch.cat([up(y), s1], 1))
        y = self.d0(torch.cat([up(y), s0], 1))
        return self.out(y).sigmoid()


@register("unet-small")
def unet_small(alpha: float = 1.0):
    return UNetSmall(alpha=alpha)
