"""The real-time multi-style student: multistyle26's own net for all 26 styles, conditioned like the teacher.

`MultiRT(x, style_weights)`: style_weights [26] (one-hot or a blend, as the teacher takes them) or [N, 26].
- stem: a cheap fitted stem (one-hot space-to-depth, 3x3 conv at 1/2 resolution to `stemw` channels, 4x4
  stride-2 conv, 3x3 conv at 1/4 resolution): the teacher's 9x9 full-resolution conv alone costs ~8 kMAC per
  pixel, more than a whole real-time frame may. It is fitted to the teacher's own 1/4-resolution features
  (`fit_stem`) with every style; `start_from` can widen a trained stem (`widen_from`).
- body: the teacher's six residual blocks and weights; the first norm of each block keeps the teacher's per-style
  gamma/beta tables (`StyleNorm`), the second is folded (`body="fold"`) or also live (`body="live"`); `pad="reflect"`
  pads the body's convs like the teacher (zero padding changes the unstable styles' whole output: docs/multi.md).
- head: the teacher's up-path rewritten exactly at 1/4 resolution (phases as channels, `phase_conv`), its norms
  folded, sigmoid before the last pixel shuffle.
A folded norm is a per-style per-channel affine a(s) * x + b(s), linear in the style weights, initialised from
each style's average statistics. For one style every affine folds into its conv (`specialise`): a fixed graph
of the shape of the other real-time students, which the runtime quantises once per style.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .ms26 import teacher_weights
from .registry import register
from .teacher_shaped import SpaceToDepth, fold_affine, load_export, norm_stats, phase_conv, phase_kernel

S, CH = 26, 32
HEAD = ((CH, 8, 3, 2), (8, 4, 3, 2), (4, 3, 9, 1))  # the teacher's up-path: (in, out, kernel, upsample)
PLAN = ((1, 2), (2, 2), (4, 1))                     # (phases per side of the input, upsample) at 1/4 resolution


class StyleNorm(nn.Module):
    """Instance norm (over each channel's `phases` phase-channels) with per-style gamma/beta tables [26, C];
    `normalize=False` makes it a folded norm: a(s) * x + b(s) without statistics (StyleAffine)."""

    def __init__(self, ch: int, phases: int = 1, normalize: bool = True):
        super().__init__()
        self.ch, self.phases, self.normalize, self.eps = ch, phases, normalize, 1e-5
        self.gamma = nn.Parameter(torch.ones(S, ch * phases))
        self.beta = nn.Parameter(torch.zeros(S, ch * phases))

    def forward(self, x, sw):
        n = x.shape[0]
        sw = sw.reshape(1, S).expand(n, S) if sw.dim() == 1 else sw
        g, b = (sw @ self.gamma)[:, :, None, None], (sw @ self.beta)[:, :, None, None]
        if self.normalize:
            z = x.reshape(n, self.ch, -1)
            mu, var = z.mean(-1, keepdim=True), z.var(-1, unbiased=False, keepdim=True)
            x = ((z - mu) / torch.sqrt(var + self.eps)).reshape(x.shape)
        return x * g + b


class MultiRT(nn.Module):
    def __init__(self, stem_fit: int = 600, body: str = "fold", pad: str = "zero", stem: str = "fold",
                 stemw: int = 16):
        super().__init__()
        if body not in ("fold", "live") or pad not in ("zero", "reflect") or stem not in ("fold", "live"):
            raise ValueError("multi-rt: body fold|live, pad zero|reflect, stem fold|live")
        stemw = int(stemw) if str(stemw).isdigit() else -1  # an --arch-arg arrives as text
        if not 8 <= stemw <= 64 or stemw % 8:
            raise ValueError(f"multi-rt: stemw (the stem's 1/2-resolution channels) is 8..64 in steps of 8, got "
                             f"{stemw}")
        self.stem_fit, self.multiple, self.cond = stem_fit, 4, True
        self.args = dict(body=body, pad=pad, **({"stem": stem} if stem != "fold" else {}),
                         **({"stemw": stemw} if stemw != 16 else {}))
        mode = "zeros" if pad == "zero" else "reflect"
        self.s2d = SpaceToDepth()
        self.stem = nn.ModuleList([nn.Conv2d(12, stemw, 3, padding=1, bias=False),
                                   nn.Conv2d(stemw, CH, 4, 2, padding=1, bias=False),
                                   nn.Conv2d(CH, CH, 3, padding=1, bias=False)])
        live = stem == "live"  # the stem's first two norms live too (per-image contrast, as the teacher's stem)
        self.stem_norm = nn.ModuleList([StyleNorm(stemw, normalize=live), StyleNorm(CH, normalize=live),
                                        StyleNorm(CH)])
        self.res = nn.ModuleList([nn.ModuleList([nn.Conv2d(CH, CH, 3, padding=1, bias=False, padding_mode=mode),
                                                 StyleNorm(CH),
                                                 nn.Conv2d(CH, CH, 3, padding=1, bias=False, padding_mode=mode),
                                                 StyleNorm(CH, normalize=body == "live")]) for _ in range(6)])
        self.head = nn.ModuleList()
        self.head_norm = nn.ModuleList()
        for (ci, co, k, _), (fi, up) in zip(HEAD, PLAN):
            kk, p = phase_kernel(k, fi, up), (fi * up) ** 2
            self.head.append(nn.Conv2d(ci * fi * fi, co * p, kk, padding=kk // 2, bias=False))
            self.head_norm.append(StyleNorm(co, p, normalize=False))

    def pairs(self):
        """(conv, its StyleNorm) in order: stem, body, head."""
        return (list(zip(self.stem, self.stem_norm)) + [(b[j], b[j + 1]) for b in self.res for j in (0, 2)]
                + list(zip(self.head, self.head_norm)))

    def features(self, x, sw):
        """The stem's 1/4-resolution features (what `fit_stem` matches to the teacher's)."""
        y = self.s2d(x)
        for conv, norm in zip(self.stem, self.stem_norm):
            y = torch.relu(norm(conv(y), sw))
        return y

    def forward(self, x, style_weights):
        sw = style_weights
        y = self.features(x, sw)
        for c1, n1, c2, n2 in self.res:
            y = y + n2(c2(torch.relu(n1(c1(y), sw))), sw)
        for i, (conv, norm) in enumerate(zip(self.head, self.head_norm)):
            y = norm(conv(y), sw)
            y = torch.relu(y) if i < 2 else torch.sigmoid(y)  # sigmoid before the last shuffle (byte-exact ends)
        return F.pixel_shuffle(y, 4)

    @staticmethod
    def check_teacher(teacher) -> None:
        from ..errors import UserError
        raise UserError("multi-rt learns all 26 styles at once: train it with `framestyle distill-multi`")

    # -- starting from the teacher ------------------------------------------------------------------

    @torch.no_grad()
    def load_teacher(self) -> "MultiRT":
        """The teacher's body and phase-form head weights; every norm (even the ones to fold) as the teacher's
        instance norm with its gamma/beta tables (`normalize=True`), so the net is the teacher but for the stem."""
        tw = teacher_weights()
        names = [None, "contract.1", "contract.2"] + [f"res.{i}.{j}" for i in range(6) for j in (0, 1)] + \
            [f"expand.{i}" for i in range(3)]
        for (conv, norm), name in zip(self.pairs(), names):
            norm.normalize = True
            if name is None:  # the fitted stem's first (1/2-resolution) layer has no teacher counterpart
                continue
            norm.gamma.copy_(tw[name + ".norm.gamma"].repeat_interleave(norm.phases, 1))
            norm.beta.copy_(tw[name + ".norm.beta"].repeat_interleave(norm.phases, 1))
            if name.startswith("res"):
                conv.weight.copy_(tw[name + ".w"])
        for conv, (fi, up), i in zip(self.head, PLAN, range(3)):
            conv.weight.copy_(phase_conv(tw[f"expand.{i}.w"], fi, up))
        return self

    def folded(self) -> list:
        """The StyleNorms this arch folds into per-style affines."""
        body = [b[3] for b in self.res] if self.args["body"] == "fold" else []
        stem = [self.stem_norm[0], self.stem_norm[1]] if self.args.get("stem", "fold") == "fold" else []
        return stem + body + list(self.head_norm)

    @torch.no_grad()
    def fold(self, inputs, n: int = 6, size: int = 256) -> dict:
        """Turn the norms to fold into per-style affines at each style's average statistics (n crops per style)."""
        folds = self.folded()
        self.eval()
        for s in range(S):  # one-hot style s reads (and changes) row s of the tables only
            sw = torch.eye(S)[s]
            stats = norm_stats(self, folds, inputs, n=n, size=size, run=lambda x: self(x, sw))
            for m in folds:
                m.gamma[s], m.beta[s] = fold_affine(stats[id(m)], m.eps, m.gamma[s], m.beta[s])
        for m in folds:
            m.normalize = False
        return {"norms_folded": len(folds), "fold_crops_per_style": n}

    @staticmethod
    @torch.no_grad()
    def from_export(path, **kwargs) -> "MultiRT":
        """The trained net in a `distill-multi` export (initializers named like the state dict); `kwargs`: its
        card's arch_kwargs."""
        return load_export(MultiRT(**kwargs), path, "multi-rt").eval()

    @torch.no_grad()
    def start_from(self, src: "MultiRT", inputs=None) -> dict:
        """Copy a trained `src` whose norms are live wherever this net's are (train.multi.start_net checks it).
        A body norm `src` folded but this net keeps live gets the teacher's gamma/beta tables back (a live norm
        ignores its conv's scale, so the trained conv stays); a stem norm (no teacher counterpart) gets, per style,
        the affine that equals `src`'s folded one at the average statistics of its input on `inputs` (photos)."""
        stem = [(mine, theirs) for mine, theirs in zip(self.stem_norm, src.stem_norm)
                if mine.normalize and not theirs.normalize]
        if stem and (inputs is None or len(inputs) == 0):
            raise ValueError("start_from: photos are needed to unfold the stem's norms")
        wider = self.widen_from(src)
        tw, unfolded = teacher_weights(), 0
        for i, (b, s) in enumerate(zip(self.res, src.res)):
            if b[3].normalize and not s[3].normalize:
                b[3].gamma.copy_(tw[f"res.{i}.1.norm.gamma"])
                b[3].beta.copy_(tw[f"res.{i}.1.norm.beta"])
                unfolded += 1
        if stem:
            for s in range(S):  # src's folded a(s) x + b(s) = gamma (x - mu) / sd + beta at its mean statistics
                sw = torch.eye(S)[s]
                stats = norm_stats(src, [t for _, t in stem], inputs, n=4, size=192,
                                   run=lambda x: src.features(x, sw))
                for mine, theirs in stem:
                    mu, var = stats[id(theirs)]
                    a, c = theirs.gamma[s], theirs.beta[s]
                    n = len(a)  # a widened stem: its new channels keep their default norm
                    mine.gamma[s, :n], mine.beta[s, :n] = a * torch.sqrt(var + mine.eps), a * mu + c
            unfolded += len(stem)
        return {"norms_unfolded": unfolded, **({"stem_widened": wider} if wider else {})}

    @torch.no_grad()
    def widen_from(self, src: "MultiRT") -> list:
        """Copy `src`'s weights; a stem at least as wide as `src`'s keeps its trained channels and the function:
        the new 1/2-resolution channels start with fresh filters, the teacher's default norm (gamma 1, beta 0) and
        no weight into the next conv, so they change nothing until training moves them. [old, new] widths when
        widened."""
        mine, theirs = self.stem[0].out_channels, src.stem[0].out_channels
        if mine < theirs:
            raise ValueError(f"start_from: the stem cannot get narrower ({theirs} -> {mine} channels)")
        if mine == theirs:
            self.load_state_dict(src.state_dict())
            return []
        state = self.state_dict()
        for k, v in src.state_dict().items():
            t = state[k]
            if t.shape == v.shape:
                t.copy_(v)
            else:  # stem.0.weight [W,12,..], stem_norm.0.gamma/beta [26,W], stem.1.weight [CH,W,..]
                if k == "stem.1.weight":
                    t.zero_()
                t[tuple(slice(0, n) for n in v.shape)] = v
        self.load_state_dict(state)
        return [theirs, mine]

    @torch.no_grad()
    def specialise(self, style_weights) -> "FixedRT":
        """The fixed one-style net: every affine folded into its conv, the norms' gamma/beta at this style."""
        sw = torch.as_tensor(np.asarray(style_weights, np.float32)).reshape(S)
        return FixedRT(self, sw)


class FixedRT(nn.Module):
    """MultiRT at one style: convs with biases, instance norms with fixed scale/shift (batch 1 export)."""

    def __init__(self, net: MultiRT, sw: torch.Tensor):
        super().__init__()
        self.multiple = 4
        self.s2d = SpaceToDepth()
        self.convs, self.norms = nn.ModuleList(), nn.ModuleList()
        for conv, norm in net.pairs():
            g, b = sw @ norm.gamma, sw @ norm.beta
            c = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                          bias=not norm.normalize, padding_mode=conv.padding_mode)
            if norm.normalize:
                c.weight.data.copy_(conv.weight)
                n = nn.InstanceNorm2d(norm.ch, affine=True, eps=norm.eps)
                n.weight.data.copy_(g)
                n.bias.data.copy_(b)
            else:
                c.weight.data.copy_(conv.weight * g[:, None, None, None])
                c.bias.data.copy_(b)
                n = nn.Identity()
            self.convs.append(c)
            self.norms.append(n)

    def forward(self, x):
        y = self.s2d(x)
        act = lambda i, v: torch.relu(self.norms[i](self.convs[i](v)))  # noqa: E731
        for i in range(3):
            y = act(i, y)
        for b in range(6):
            i = 3 + 2 * b
            y = y + self.norms[i + 1](self.convs[i + 1](act(i, y)))
        for k in range(3):
            i = 15 + k
            y = self.convs[i](y)
            y = torch.relu(y) if k < 2 else torch.sigmoid(y)
        return F.pixel_shuffle(y, 4)


def teacher_stem(x: torch.Tensor, sw: torch.Tensor) -> torch.Tensor:
    """multistyle26's own stem (reflect padding, conditional instance norms) at per-sample style weights [N, 26]."""
    tw = teacher_weights()
    y = x
    for i, (k, s) in enumerate(((9, 1), (3, 2), (3, 2))):
        y = F.conv2d(F.pad(y, [k // 2] * 4, mode="reflect"), tw[f"contract.{i}.w"], stride=s)
        g, b = sw @ tw[f"contract.{i}.norm.gamma"], sw @ tw[f"contract.{i}.norm.beta"]
        y = torch.relu(F.instance_norm(y) * g[:, :, None, None] + b[:, :, None, None])
    return y


@register("multi-rt")
def multi_rt(stem_fit: int = 600, body: str = "fold", pad: str = "zero", stem: str = "fold", stemw: int = 16):
    return MultiRT(stem_fit=int(stem_fit), body=str(body), pad=str(pad), stem=str(stem), stemw=stemw)


@register("multi-rt-fixed")
def multi_rt_fixed(body: str = "fold", pad: str = "zero", stem: str = "fold", stemw: int = 16):
    """One style of `multi-rt` as a plain net (what `distill --init multi26 --teacher multistyle26:S` trains)."""
    return FixedRT(MultiRT(body=str(body), pad=str(pad), stem=str(stem), stemw=stemw), torch.eye(S)[0])
