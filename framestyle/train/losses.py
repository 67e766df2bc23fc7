"""Training losses: pixel, gradient/distillation, content (feature MSE), style (Gram or mean/std), TV.

Images are [N,3,H,W] RGB 0..1; features are {layer: [N,C,h,w]} dicts from train.features.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional

import torch
import torch.nn.functional as F

Feats = Dict[str, torch.Tensor]


def pixel_loss(out: torch.Tensor, target: torch.Tensor, kind: str = "l1") -> torch.Tensor:
    return F.l1_loss(out, target) if kind == "l1" else F.mse_loss(out, target)


def grad_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """MSE between horizontal and vertical finite differences (edges) of two images."""
    dxa, dxb = a[..., :, 1:] - a[..., :, :-1], b[..., :, 1:] - b[..., :, :-1]
    dya, dyb = a[..., 1:, :] - a[..., :-1, :], b[..., 1:, :] - b[..., :-1, :]
    return ((dxa - dxb) ** 2).mean() + ((dya - dyb) ** 2).mean()


def distill_loss(out: torch.Tensor, target: torch.Tensor, grad_weight: float = 0.5) -> torch.Tensor:
    """The distillation loss: pixel MSE + grad_weight * gradient MSE."""
    return F.mse_loss(out, target) + grad_weight * grad_loss(out, target)


def stability_loss(net, x: torch.Tensor, out: torch.Tensor, rng, noise: float = 0.02, max_shift: int = 3):
    """Temporal-stability term (Gupta et al. 2017; Huang et al. 2017 on synthetic motion).

    Half the batch: the output must not change when the input gets small Gaussian noise (sensor noise,
    compression). Other half: shifting the input by a few pixels (not a multiple of the stride) must shift the
    output the same way, compared on the overlap. `out` is net(x), reused as the reference."""
    n = x.shape[0]
    h = max(1, n // 2)
    g = torch.Generator().manual_seed(int(rng.integers(2**31)))
    xn = (x[:h] + noise * torch.randn(x[:h].shape, generator=g)).clamp(0, 1)
    terms = [F.mse_loss(net(xn), out[:h])]
    if n > h:
        dy, dx = (int(v) for v in rng.integers(-max_shift, max_shift + 1, size=2))
        if dx == 0 and dy == 0:
            dx = 1
        xs = torch.roll(x[h:], shifts=(dy, dx), dims=(2, 3))
        os_ = net(xs)
        m = max_shift + 8  # drop rolled-in borders and the padding zone
        ref = torch.roll(out[h:], shifts=(dy, dx), dims=(2, 3))
        terms.append(F.mse_loss(os_[..., m:-m, m:-m], ref[..., m:-m, m:-m]))
    return sum(terms) / len(terms)


def tv_loss(img: torch.Tensor) -> torch.Tensor:
    """Total variation (mean absolute difference of neighbours)."""
    return (img[..., :, 1:] - img[..., :, :-1]).abs().mean() + (img[..., 1:, :] - img[..., :-1, :]).abs().mean()


def gram(f: torch.Tensor) -> torch.Tensor:
    """[N,C,H,W] -> [N,C,C], normalised by C*H*W."""
    n, c, h, w = f.shape
    x = f.reshape(n, c, h * w)
    return torch.bmm(x, x.transpose(1, 2)) / (c * h * w)


def mean_std(f: torch.Tensor, eps: float = 1e-5):
    """Channel mean and std over space: two [N,C] tensors."""
    m = f.mean(dim=(2, 3))
    s = (f.var(dim=(2, 3), unbiased=False) + eps).sqrt()
    return m, s


def content_loss(out: Feats, ref: Feats, weights: Mapping[str, float]) -> torch.Tensor:
    return sum(w * F.mse_loss(out[k], ref[k]) for k, w in weights.items())


def style_targets(feats: Feats, layers, kind: str = "gram") -> Dict[str, object]:
    """Statistics of the style image's features (batch 1), computed once."""
    if kind == "gram":
        return {k: gram(feats[k]).detach() for k in layers}
    return {k: tuple(t.detach() for t in mean_std(feats[k])) for k in layers}


def style_loss(out: Feats, targets: Mapping[str, object], weights: Mapping[str, float],
               kind: str = "gram") -> torch.Tensor:
    """Gram-matrix MSE (Gatys/Johnson) or mean/std MSE (AdaIN-style) against fixed targets."""
    total = 0.0
    for k, w in weights.items():
        if kind == "gram":
            g = gram(out[k])
            total = total + w * F.mse_loss(g, targets[k].expand_as(g))
        else:
            m, s = mean_std(out[k])
            tm, ts = targets[k]
            total = total + w * (F.mse_loss(m, tm.expand_as(m)) + F.mse_loss(s, ts.expand_as(s)))
    return total


class PerceptualLoss(torch.nn.Module):
    """content_weight * content + style_weight * style + tv_weight * TV (+ pixel_weight * L1 to a target).

    Style statistics come from `style_img` once; without it, only content (and pixel) terms apply, as in
    paired training where the content reference is the target image.
    """

    def __init__(self, features, style_img: Optional[torch.Tensor] = None, content_weight: float = 1.0,
                 style_weight: float = 1.0, tv_weight: float = 0.0, style_kind: str = "gram",
                 style_layers: Optional[Mapping[str, float]] = None,
                 content_layers: Optional[Mapping[str, float]] = None):
        super().__init__()
        self.features = features
        self.style_layers = dict(style_layers or features.style_layers)
        self.content_layers = dict(content_layers or features.content_layers)
        self.cw, self.sw, self.tw, self.kind = content_weight, style_weight, tv_weight, style_kind
        self.targets = None
        if style_img is not None:
            with torch.no_grad():
                self.targets = style_targets(features(style_img), self.style_layers, style_kind)

    def forward(self, out: torch.Tensor, content_ref: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Returns the terms and their weighted sum under 'total'."""
        fo = self.features(out)
        with torch.no_grad():
            fc = self.features(content_ref)
        terms = {"content": content_loss(fo, fc, self.content_layers)}
        total = self.cw * terms["content"]
        if self.targets is not None:
            terms["style"] = style_loss(fo, self.targets, self.style_layers, self.kind)
            total = total + self.sw * terms["style"]
        if self.tw:
            terms["tv"] = tv_loss(out)
            total = total + self.tw * terms["tv"]
        terms["total"] = total
        return terms
