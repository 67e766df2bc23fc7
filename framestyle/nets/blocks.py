"""Small building blocks shared by the nets."""
from __future__ import annotations

import torch.nn as nn


DILATIONS = (1, 2, 4, 1, 2, 4, 1, 2)  # dilation of the i-th separable body block (cycled)


class SepConv(nn.Module):
    """Depthwise 3x3 (optionally dilated) followed by a pointwise 1x1."""

    def __init__(self, cin: int, cout: int, dilation: int = 1, act: bool = True):
        super().__init__()
        self.dw = nn.Conv2d(cin, cin, 3, padding=dilation, dilation=dilation, groups=cin, bias=False)
        self.pw = nn.Conv2d(cin, cout, 1)
        self.act = nn.ReLU(inplace=True) if act else nn.Identity()

    def forward(self, x):
        return self.act(self.pw(self.dw(x)))


class ConvNormAct(nn.Module):
    def __init__(self, cin, cout, k=3, stride=1, norm="instance", act=True, reflect=True):
        super().__init__()
        pad = k // 2
        self.pad = nn.ReflectionPad2d(pad) if reflect and pad else nn.Identity()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=0 if reflect else pad)
        self.norm = make_norm(norm, cout)
        self.act = nn.ReLU(inplace=True) if act else nn.Identity()

    def forward(self, x):
        return self.act(self.norm(self.conv(self.pad(x))))


def make_norm(kind: str, ch: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(ch, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(ch)
    return nn.Identity()


def width(base: int, alpha: float, minimum: int = 4) -> int:
    return max(minimum, int(round(base * alpha)))


def count_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
