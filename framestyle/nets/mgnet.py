"""Magenta-shaped students: the Magenta arbitrary-style transform rebuilt so a student starts from its weights.

Magenta's transform (Ghiasi et al. 2017): 9x9 conv 3->8, 3x3 stride-2 8->16, 3x3 stride-2 16->32 (ReLU; batch
norms folded into biases), five residual blocks at 1/4 resolution whose instance norms take scale and shift from
1x1 maps of the 100-number style vector, then nearest x2 + 3x3 (16 ch), x2 + 3x3 (8 ch) and a 9x9 conv to RGB,
each with such a norm. Rewritten like `ms26` (docs/students.md): the up-path exactly at 1/4 resolution (phases as
channels, pixel shuffle out), optionally a patch stem fitted to the teacher's 1/4-resolution features.

- `mg`: one style, its vector kept inside the net (constant-folded in the ONNX): `distill --teacher magenta`.
- `cond-mg`: any style: `forward(x, style)`, the norms' 1x1 maps kept (`train-arbitrary --arch cond-mg`).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .ms26 import PLANS, fit_stem, phase_conv, phase_kernel
from .registry import register

STEM = ((3, 8, 9, 1), (8, 16, 3, 2), (16, 32, 3, 2))   # (in, out, kernel, stride)
HEAD = ((32, 16, 3, 2), (16, 8, 3, 2), (8, 3, 9, 1))   # (in, out, kernel, nearest upsample before)
CH, BLOCKS = 32, 5


class StyleNorm(nn.Module):
    """Instance norm (GroupNorm over each channel's `phases` phase-channels) with scale/shift = Linear(style)."""

    def __init__(self, ch: int, phases: int = 1):
        super().__init__()
        self.ch, self.phases = ch, phases
        self.norm = nn.GroupNorm(ch, ch * phases, affine=False) if phases > 1 else nn.InstanceNorm2d(ch)
        self.scale, self.shift = nn.Linear(100, ch), nn.Linear(100, ch)

    frozen = None  # (scale, shift) of a fixed style, folded for export by `freeze`

    def affine(self, v):
        """Per-channel scale and shift [N, ch*phases, 1, 1] for style vectors v [N, 100]."""
        if self.frozen is not None:
            return self.frozen
        return tuple(f(v).repeat_interleave(self.phases, dim=1).reshape(v.shape[0], -1, 1, 1)
                     for f in (self.scale, self.shift))

    def freeze(self, v) -> None:
        """Keep the affine of one style vector [1, 100] as constants and drop the 100->C maps."""
        self.frozen = self.affine(v)
        self.scale = self.shift = None

    def forward(self, x, v):
        g, b = self.affine(v)
        return self.norm(x) * g + b


class MG(nn.Module):
    def __init__(self, cond: bool = False, stem: str = "teacher", blocks: int = BLOCKS, stem_fit: int = 300,
                 head_res: str = "quarter"):
        super().__init__()
        if stem not in ("teacher", "patch") or not 1 <= blocks <= BLOCKS or head_res not in PLANS:
            raise ValueError("mg: stem teacher|patch, blocks 1..5, head_res quarter|half")
        self.plan = PLANS[head_res]
        self.cond, self.stem_kind, self.stem_fit, self.multiple = cond, stem, stem_fit, 4
        if stem == "teacher":
            self.stem = nn.Sequential(*[m for ci, co, k, s in STEM
                                        for m in (nn.Conv2d(ci, co, k, s, padding=k // 2), nn.ReLU())])
        else:
            self.stem = nn.Sequential(nn.Conv2d(3, CH, 8, 4, padding=2), nn.ReLU(),
                                      nn.Conv2d(CH, CH, 3, padding=1), nn.ReLU())
        self.res = nn.ModuleList([nn.ModuleList([nn.Conv2d(CH, CH, 3, padding=1), StyleNorm(CH),
                                                 nn.Conv2d(CH, CH, 3, padding=1), StyleNorm(CH)])
                                  for _ in range(blocks)])
        ks = [phase_kernel(k, fi, up) for (_, _, k, _), (fi, up, _) in zip(HEAD, self.plan)]
        self.head = nn.ModuleList([nn.Conv2d(ci * fi * fi, co * (fi * up) ** 2, kk, padding=kk // 2, bias=False)
                                   for (ci, co, _, _), (fi, up, _), kk in zip(HEAD, self.plan, ks)])
        self.head_norm = nn.ModuleList([StyleNorm(co, (fi * up) ** 2)
                                        for (_, co, _, _), (fi, up, _) in zip(HEAD, self.plan)])
        if not cond:
            self.register_buffer("vec", torch.zeros(1, 100))

    def forward(self, x, style=None):
        v = style if self.cond else self.vec
        y = self.stem(x)
        for c1, n1, c2, n2 in self.res:
            y = y + n2(c2(torch.relu(n1(c1(y), v))), v)
        for i, (conv, norm, (_, _, shuffle)) in enumerate(zip(self.head, self.head_norm, self.plan)):
            y = norm(conv(y), v)
            y = torch.relu(y) if i < 2 else y
            y = F.pixel_shuffle(y, shuffle) if shuffle > 1 else y
        return torch.sigmoid(y)

    @torch.no_grad()
    def for_export(self) -> "MG":
        """A copy whose norms hold the fixed style's scale/shift as constants (the 100->C maps dropped)."""
        import copy
        if self.cond:
            return self
        net = copy.deepcopy(self).eval()
        for m in net.modules():
            if isinstance(m, StyleNorm):
                m.freeze(net.vec)
        return net

    @torch.no_grad()
    def load_teacher(self, vec=None) -> "MG":
        """Copy the Magenta transform's weights (and, for `mg`, the style vector `vec`)."""
        tw = teacher_weights()
        if self.stem_kind == "teacher":
            for conv, name in zip(self.stem[::2], ("conv1", "conv2", "conv3")):
                conv.weight.copy_(tw[f"transformer/contract/{name}/weights"])
                conv.bias.copy_(tw[f"transformer/contract/{name}/bias"])
        for i, (c1, n1, c2, n2) in enumerate(self.res):
            for conv, norm, j in ((c1, n1, 1), (c2, n2, 2)):
                base = f"transformer/residual/residual{i + 1}/conv{j}"
                conv.weight.copy_(tw[base + "/weights"])
                conv.bias.zero_()  # cancelled by the norm's mean
                _put_norm(norm, tw, base)
        for i, (conv, norm, (fi, up, _)) in enumerate(zip(self.head, self.head_norm, self.plan)):
            base = f"transformer/expand/conv{i + 1}/conv"
            conv.weight.copy_(phase_conv(tw[base + "/weights"], fi, up))
            _put_norm(norm, tw, base)
        if vec is not None and not self.cond:
            self.vec.copy_(torch.as_tensor(np.asarray(vec, np.float32)).reshape(1, 100))
        return self

    def check_teacher(self, teacher) -> None:
        from ..errors import UserError
        if not self.cond and (getattr(teacher, "kind", None) != "magenta" or getattr(teacher, "vec", None) is None):
            raise UserError("the mg student starts from Magenta's weights: use --teacher magenta --style-image IMG "
                            "(for any style: train-arbitrary --arch cond-mg)")

    def start_from(self, teacher, inputs, progress: bool = True) -> dict:
        """Before distillation from a Magenta teacher: its weights, and a patch stem fitted to its features."""
        self.check_teacher(teacher)
        self.load_teacher(None if self.cond else teacher.vec)
        if self.stem_kind == "teacher":
            return {"stem_fit_steps": 0}
        ref = MG(stem="teacher", blocks=1).load_teacher().stem.eval()
        return fit_stem(self.stem, ref, inputs, self.stem_fit, progress)


def _put_norm(norm: StyleNorm, tw: dict, base: str) -> None:
    norm.scale.weight.copy_(tw[base + "/StyleNorm/Conv_1/weights"].reshape(norm.ch, 100))
    norm.scale.bias.copy_(tw[base + "/StyleNorm/Conv_1/bias"])
    norm.shift.weight.copy_(tw[base + "/StyleNorm/Conv/weights"].reshape(norm.ch, 100))
    norm.shift.bias.copy_(tw[base + "/StyleNorm/Conv/bias"])


_TEACHER = {}


def teacher_weights() -> dict:
    """The float Magenta transform's weights by layer path (".../weights", ".../bias")."""
    if not _TEACHER:
        import onnx
        from onnx import numpy_helper
        from ..zoo.magenta import float_transform_path
        g = onnx.load(str(float_transform_path())).graph
        init = {i.name: i for i in g.initializer}
        for n in g.node:
            if n.op_type != "Conv" or n.input[1] not in init:
                continue
            base = n.input[1].rsplit("/", 1)[0].replace("style_params/", "")
            _TEACHER[base + "/weights"] = torch.from_numpy(numpy_helper.to_array(init[n.input[1]]).copy())
            if len(n.input) > 2 and n.input[2] in init:
                _TEACHER[base + "/bias"] = torch.from_numpy(numpy_helper.to_array(init[n.input[2]]).copy())
    return _TEACHER


@register("mg")
def mg(stem: str = "teacher", blocks: int = BLOCKS, stem_fit: int = 300, head_res: str = "quarter"):
    return MG(cond=False, stem=str(stem), blocks=int(blocks), stem_fit=int(stem_fit), head_res=str(head_res))


@register("cond-mg")
def cond_mg(stem: str = "teacher", blocks: int = BLOCKS, stem_fit: int = 300, head_res: str = "quarter"):
    return MG(cond=True, stem=str(stem), blocks=int(blocks), stem_fit=int(stem_fit), head_res=str(head_res))
