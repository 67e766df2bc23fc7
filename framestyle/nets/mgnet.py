"""Magenta-shaped students: the Magenta arbitrary-style transform rebuilt so a student starts from its weights.

Magenta's transform (Ghiasi et al. 2017): 9x9 conv 3->8, 3x3 stride-2 8->16, 3x3 stride-2 16->32 (ReLU; batch
norms folded into biases), five residual blocks at 1/4 resolution whose instance norms take scale and shift from
1x1 maps of the 100-number style vector, then nearest x2 + 3x3 (16 ch), x2 + 3x3 (8 ch) and a 9x9 conv to RGB,
each with such a norm. Rewritten like `ms26` (docs/students.md): the up-path exactly at 1/4 resolution (phases as
channels, pixel shuffle out), optionally a patch stem fitted to the teacher's 1/4-resolution features.

- `mg`: one style, its vector kept inside the net (constant-folded in the ONNX): `distill --teacher magenta`.
- `cond-mg`: any style: `forward(x, style)`, the norms' 1x1 maps kept (`train-arbitrary --arch cond-mg`).
  For one style (`specialise`) it is a fixed `mg` net; the runtime folds its up-path's norms at that style's
  measured statistics into a fixed int8 graph (runtime/specialise.py). `train-arbitrary --init` continues a
  trained `cond-mg`; `distill --init` starts a fixed student for one painting from it.

Width knob `up=C1,C2` (teacher 16,8): the up-path keeps the C1 and C2 teacher channels that feed the next layer
most (`up_keep`); `blocks=N` keeps the first N residual blocks; `stem=phase3` cuts the phase stem's 5x5 conv (the
widest, 2.4 of ~14.8 kMAC per pixel) to 3x3, started from its taps moved inward (`shrink_kernel`) and fitted to
the teacher's stem features (`stem_fit` steps; with `--init`, to the trained student's own stem). All cut the
720p cost (docs/students.md).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .registry import register
from .teacher_shaped import (FOLDS, PLANS, SpaceToDepth, fit_stem, fold_pairs, phase_conv, phase_kernel,
                             load_export, phase_stem, set_convs, shrink_kernel)

STEM = ((3, 8, 9, 1), (8, 16, 3, 2), (16, 32, 3, 2))   # (in, out, kernel, stride)
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
        if x.shape[0] == 1 and self.phases == 1:  # one InstanceNormalization node with the style's scale/shift
            return F.instance_norm(x, weight=g.reshape(-1), bias=b.reshape(-1), eps=self.norm.eps)
        return self.norm(x) * g + b


class Folded(nn.Module):
    """A StyleNorm folded into the conv before it (`fold`): nothing left to compute."""

    def forward(self, x, v):
        return x


class MG(nn.Module):
    def __init__(self, cond: bool = False, stem: str = "teacher", blocks: int = BLOCKS, stem_fit: int = 300,
                 head_res: str = "quarter", fold: str = "none", up=(16, 8)):
        super().__init__()
        if isinstance(up, (int, float)):
            raise ValueError(f"mg: up takes two widths C1,C2 (e.g. 16,4), got {up}")
        up = tuple(int(c) for c in (up.split(",") if isinstance(up, str) else up))
        if (stem not in ("teacher", "patch", "phase", "phase3") or not 1 <= blocks <= BLOCKS
                or head_res not in PLANS or fold not in FOLDS or (cond and fold != "none") or len(up) != 2
                or not (1 <= up[0] <= 16 and 1 <= up[1] <= 8)):
            raise ValueError("mg: stem teacher|patch|phase|phase3, blocks 1..5, head_res quarter|half, up C1,C2 "
                             "(at most 16,8), fold " + "|".join(FOLDS) + " (fold only for a fixed style: mg, not "
                             "cond-mg; the runtime folds each style of a cond-mg: runtime/specialise.py)")
        self.args = dict(cond=cond, stem=stem, blocks=blocks, stem_fit=stem_fit, head_res=head_res, up=up)
        self.up = up
        head = ((CH, up[0], 3, 2), (up[0], up[1], 3, 2), (up[1], 3, 9, 1))
        self.plan = PLANS[head_res]
        self.cond, self.stem_kind, self.stem_fit, self.multiple = cond, stem, stem_fit, 4
        if stem == "teacher":
            self.stem = nn.Sequential(*[m for ci, co, k, s in STEM
                                        for m in (nn.Conv2d(ci, co, k, s, padding=k // 2), nn.ReLU())])
        elif stem in ("phase", "phase3"):  # the teacher's stem, its full-resolution conv on 2x2 phases (exact);
            k = 5 if stem == "phase" else 3  # phase3: that conv cut to 3x3 (64% fewer MACs), fitted to the teacher
            self.stem = nn.Sequential(SpaceToDepth(), nn.Conv2d(12, 32, k, padding=k // 2), nn.ReLU(),
                                      nn.Conv2d(32, 16, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(16, 32, 3, 2, padding=1), nn.ReLU())
        else:
            self.stem = nn.Sequential(nn.Conv2d(3, CH, 8, 4, padding=2), nn.ReLU(),
                                      nn.Conv2d(CH, CH, 3, padding=1), nn.ReLU())
        self.res = nn.ModuleList([nn.ModuleList([nn.Conv2d(CH, CH, 3, padding=1), StyleNorm(CH),
                                                 nn.Conv2d(CH, CH, 3, padding=1), StyleNorm(CH)])
                                  for _ in range(blocks)])
        ks = [phase_kernel(k, fi, u) for (_, _, k, _), (fi, u, _) in zip(head, self.plan)]
        self.head = nn.ModuleList([nn.Conv2d(ci * fi * fi, co * (fi * u) ** 2, kk, padding=kk // 2, bias=False)
                                   for (ci, co, _, _), (fi, u, _), kk in zip(head, self.plan, ks)])
        self.head_norm = nn.ModuleList([StyleNorm(co, (fi * u) ** 2)
                                        for (_, co, _, _), (fi, u, _) in zip(head, self.plan)])
        if not cond:
            self.register_buffer("vec", torch.zeros(1, 100))
        self.fold = fold
        pairs = self.pairs()
        for i in self.folded(fold):  # these norms become conv biases at their average statistics (ms26.FOLDS)
            conv, _, put = pairs[i]
            if conv.bias is None:
                conv.bias = nn.Parameter(torch.zeros(conv.out_channels))
            put(Folded())

    def pairs(self):
        """(conv, its norm, a setter replacing that norm) for every normed conv, body then head."""
        out = []
        for blk in self.res:
            for j in (0, 2):
                out.append((blk[j], blk[j + 1], lambda m, blk=blk, j=j: blk.__setitem__(j + 1, m)))
        for i, conv in enumerate(self.head):
            out.append((conv, self.head_norm[i], lambda m, i=i: self.head_norm.__setitem__(i, m)))
        return out

    def folded(self, fold: str):
        n = 2 * len(self.res)
        return {"none": [], "head": list(range(n, n + 3)), "half": list(range(1, n, 2)) + list(range(n, n + 3)),
                "all": list(range(n + 3))}[fold]

    def forward(self, x, style=None):
        v = style if self.cond else self.vec
        y = self.stem(x)
        for c1, n1, c2, n2 in self.res:
            y = y + n2(c2(torch.relu(n1(c1(y), v))), v)
        for i, (conv, norm, (_, _, shuffle)) in enumerate(zip(self.head, self.head_norm, self.plan)):
            y = norm(conv(y), v)
            # the sigmoid before the last shuffle (the same function): an int8 graph then ends in uint8 codes
            # that the uint8 wrapper only rearranges (runtime.session.uint8_graph)
            y = torch.relu(y) if i < 2 else torch.sigmoid(y)
            y = F.pixel_shuffle(y, shuffle) if shuffle > 1 else y
        return y

    def lr_scales(self) -> dict:
        """For training (train.loop.param_groups): the style maps at a 50x lower rate (they read a 100-number
        vector, so one Adam step moves their output ~|v|_1 ~ 70 times more than a conv weight's)."""
        return {".scale.": 0.02, ".shift.": 0.02}

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
        stem = {n: (tw[f"transformer/contract/{n}/weights"], tw[f"transformer/contract/{n}/bias"])
                for n in ("conv1", "conv2", "conv3")}
        if self.stem_kind in ("phase", "phase3"):
            stem["conv1"], stem["conv2"] = phase_stem(*stem["conv1"], *stem["conv2"])
        if self.stem_kind == "phase3":  # the 5x5 phase conv's taps moved into 3x3: the start of the fit (start_from)
            stem["conv1"] = (shrink_kernel(stem["conv1"][0], 3), stem["conv1"][1])
        if self.stem_kind in ("teacher", "phase", "phase3"):
            set_convs(self.stem, [stem[n] for n in ("conv1", "conv2", "conv3")])
        for i, (c1, n1, c2, n2) in enumerate(self.res):
            for conv, norm, j in ((c1, n1, 1), (c2, n2, 2)):
                base = f"transformer/residual/residual{i + 1}/conv{j}"
                conv.weight.copy_(tw[base + "/weights"])
                conv.bias.zero_()  # cancelled by the norm's mean
                _put_norm(norm, tw, base)
        keep = up_keep(tw, self.up, vec if not self.cond else None)
        for i, (conv, norm, (fi, up, _)) in enumerate(zip(self.head, self.head_norm, self.plan)):
            base = f"transformer/expand/conv{i + 1}/conv"
            w = tw[base + "/weights"][keep[i]]
            w = w[:, keep[i - 1]] if i else w
            conv.weight.copy_(phase_conv(w, fi, up))
            _put_norm(norm, tw, base, keep[i])
        if vec is not None and not self.cond:
            self.vec.copy_(torch.as_tensor(np.asarray(vec, np.float32)).reshape(1, 100))
        return self

    @torch.no_grad()
    def with_phase_stem(self) -> "MG":
        """A copy whose teacher-form stem is rewritten on 2x2 phases (`phase_stem`): the same function, and an
        int8 graph without the full-resolution 3-channel conv that int8 runs slowly."""
        import copy
        if self.stem_kind != "teacher":
            raise ValueError("with_phase_stem needs the teacher-form stem")
        net = copy.deepcopy(self)
        net.stem_kind, net.args = "phase", {**self.args, "stem": "phase"}
        net.stem = MG(stem="phase", blocks=1).stem
        first, second = phase_stem(self.stem[0].weight, self.stem[0].bias, self.stem[2].weight, self.stem[2].bias)
        set_convs(net.stem, [first, second, (self.stem[4].weight, self.stem[4].bias)])
        return net.eval()

    @torch.no_grad()
    def load_onnx(self, path) -> "MG":
        """Weights from an ONNX file this net exported (initializers named like the state dict; cond-mg)."""
        return load_export(self, path)

    def check_teacher(self, teacher) -> None:
        from ..errors import UserError
        if not self.cond and (getattr(teacher, "kind", None) != "magenta" or getattr(teacher, "vec", None) is None):
            raise UserError("the mg student starts from Magenta's weights: use --teacher magenta --style-image IMG "
                            "(for any style: train-arbitrary --arch cond-mg)")

    def start_from(self, teacher, inputs, progress: bool = True, init=None) -> dict:
        """Before distillation from a Magenta teacher: its weights, and a patch / phase3 stem fitted to its
        features (or, `init`, a trained cond-mg export: its weights, its stem in this net's form, its up-path cut
        to this net's widths)."""
        self.check_teacher(teacher)
        if init is not None:
            if not self.cond:
                raise ValueError("--init takes a cond-mg export and starts a cond-mg")
            twin = MG.from_export(init)
            phased = self.stem_kind in ("phase", "phase3")
            twin = twin.with_phase_stem() if phased and twin.stem_kind == "teacher" else twin
            twin = twin.narrowed(self.up)
            if self.stem_kind != "phase3" or twin.stem_kind == "phase3":
                self.load_state_dict(twin.state_dict())
                return {"init": Path(init).name, "stem_fit_steps": 0}
            # phase3 from a 5x5 phase stem: its taps moved into 3x3, then fitted to the twin's own stem
            state = twin.state_dict()
            state["stem.1.weight"] = shrink_kernel(state["stem.1.weight"], 3)
            self.load_state_dict(state)
            return {"init": Path(init).name, **fit_stem(self.stem, twin.stem.eval(), inputs, self.stem_fit, progress)}
        if self.fold != "none":
            twin = MG(**self.args)
            info = twin.start_from(teacher, inputs, progress)
            return {**info, **self.fold_from(twin, inputs)}
        self.load_teacher(None if self.cond else teacher.vec)
        if self.stem_kind not in ("patch", "phase3"):
            return {"stem_fit_steps": 0}
        ref = MG(stem="teacher", blocks=1).load_teacher().stem.eval()
        return fit_stem(self.stem, ref, inputs, self.stem_fit, progress)

    @torch.no_grad()
    def fold_from(self, twin: "MG", inputs) -> dict:
        """Copy `twin` (all norms) into this net, folding the norms that are `Folded` here at the average
        statistics of their inputs on `inputs` and the fixed style's scale and shift."""
        self.stem.load_state_dict(twin.stem.state_dict())
        self.vec.copy_(twin.vec)

        def affine(n):
            g, b = (t.reshape(-1) for t in n.affine(twin.vec))
            return g, b, n.norm.eps
        # statistics hooked on each StyleNorm (the batch-1 export path skips its inner norm)
        fold_pairs(twin, *[[(c, n) for c, n, _ in net.pairs()] for net in (twin, self)], inputs,
                   lambda n: isinstance(n, Folded), affine)
        return {"norms_folded": len(self.folded(self.fold))}


    @staticmethod
    def from_export(path) -> "MG":
        """The cond-mg net a `train-arbitrary --arch cond-mg` export holds (its stem form, blocks and up-path widths
        read from the weights' shapes)."""
        import onnx
        from ..zoo.onnx_surgery import named_weights
        card = Path(path).with_suffix(".json")
        if card.exists():  # its card names the arch (folded norms are not told apart by their weights)
            from ..zoo.card import load_card
            c = load_card(path)
            if c.get("arch") == "cond-mg":
                from . import build
                return build(c["arch"], **(c.get("arch_kwargs") or {})).load_onnx(path)
        w = named_weights(onnx.load(str(path)).graph)
        if "head.0.weight" not in w or "res.0.1.scale.weight" not in w:
            raise ValueError(f"{path}: not a float cond-mg export")
        blocks = len({k.split(".")[1] for k in w if k.startswith("res.")})
        up = (w["head.0.weight"].shape[0] // 4, w["head.1.weight"].shape[0] // 16)
        stem = ("teacher" if "stem.0.weight" in w and w["stem.0.weight"].shape[-1] == 9
                else "phase3" if "stem.1.weight" in w and w["stem.1.weight"].shape[-1] == 3 else "phase")
        return MG(cond=True, stem=stem, blocks=blocks, up=up).load_onnx(path)

    @torch.no_grad()
    def narrowed(self, up) -> "MG":
        """A copy whose up-path keeps `up` = (C1, C2) of its channels: those whose style-independent scale times
        the L1 of the next conv's weights reading them is largest (`up_keep` on this net's own phase-form head)."""
        up = tuple(int(c) for c in (up.split(",") if isinstance(up, str) else up))
        if up == tuple(self.up):
            return self
        if self.args["head_res"] != "quarter":
            raise ValueError("narrowed: quarter-resolution heads only")
        net = MG(**{**self.args, "up": up})
        net.stem.load_state_dict(self.stem.state_dict())
        net.res.load_state_dict(self.res.state_dict())
        p_out = [(fi * u) ** 2 for fi, u, _ in self.plan]  # phase-channels per channel after each head conv
        keep, prev = [], torch.arange(CH)
        for i in range(3):
            if i < 2:
                nxt = self.head[i + 1].weight.abs().reshape(self.head[i + 1].out_channels, -1, p_out[i],
                                                            *self.head[i + 1].weight.shape[2:])
                score = self.head_norm[i].scale.bias.abs() * nxt.sum((0, 2, 3, 4))
                k = torch.sort(torch.topk(score, up[i]).indices).values
            else:
                k = torch.arange(3)
            rows = (k[:, None] * p_out[i] + torch.arange(p_out[i])).reshape(-1)
            p_in = p_out[i - 1] if i else 1
            cols = (prev[:, None] * p_in + torch.arange(p_in)).reshape(-1)
            net.head[i].weight.copy_(self.head[i].weight[rows][:, cols])
            for lin, src in ((net.head_norm[i].scale, self.head_norm[i].scale),
                             (net.head_norm[i].shift, self.head_norm[i].shift)):
                lin.weight.copy_(src.weight[k])
                lin.bias.copy_(src.bias[k])
            keep.append(k)
            prev = k
        return net.eval()

    @torch.no_grad()
    def specialise(self, vec) -> "MG":
        """The fixed-style `mg` net (every norm live) of a `cond-mg` at one style vector: exports like any `mg`
        student, or folds further (`MG(fold=...).fold_from(it, photos)`)."""
        if not self.cond:
            raise ValueError("specialise: not a conditional net")
        fixed = MG(**{**self.args, "cond": False})
        fixed.load_state_dict({**self.state_dict(), "vec": torch.as_tensor(np.asarray(vec, np.float32)).reshape(1, 100)})
        return fixed.eval()


def _put_norm(norm: StyleNorm, tw: dict, base: str, keep=slice(None)) -> None:
    norm.scale.weight.copy_(tw[base + "/StyleNorm/Conv_1/weights"].reshape(-1, 100)[keep])
    norm.scale.bias.copy_(tw[base + "/StyleNorm/Conv_1/bias"][keep])
    norm.shift.weight.copy_(tw[base + "/StyleNorm/Conv/weights"].reshape(-1, 100)[keep])
    norm.shift.bias.copy_(tw[base + "/StyleNorm/Conv/bias"][keep])


def up_keep(tw: dict, up, vec=None) -> list:
    """Which teacher channels the up-path keeps (sorted indices per layer): the `up[i]` channels whose normalised
    output feeds the next conv most, |style scale| x L1 of the next conv's weights reading it (the scale at the
    style vector `vec`, or its style-independent bias for any style). All of them for the teacher's 16,8."""
    keep = []
    for i, n in enumerate(up):
        base = f"transformer/expand/conv{i + 1}/conv"
        scale = tw[base + "/StyleNorm/Conv_1/bias"].clone()
        if vec is not None:
            scale += tw[base + "/StyleNorm/Conv_1/weights"].reshape(-1, 100) @ torch.as_tensor(
                np.asarray(vec, np.float32)).reshape(100)
        nxt = tw[f"transformer/expand/conv{i + 2}/conv/weights"]
        score = scale.abs() * nxt.abs().sum((0, 2, 3))
        keep.append(torch.sort(torch.topk(score, n).indices).values)
    return keep + [torch.arange(3)]


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
def mg(stem: str = "teacher", blocks: int = BLOCKS, stem_fit: int = 300, head_res: str = "quarter", fold: str = "none",
       up="16,8"):
    return MG(cond=False, stem=str(stem), blocks=int(blocks), stem_fit=int(stem_fit), head_res=str(head_res),
              fold=str(fold), up=up)


@register("mg-rt")
def mg_rt(stem: str = "phase", blocks: int = BLOCKS, stem_fit: int = 300, head_res: str = "quarter",
          fold: str = "half", up="16,4"):
    """`mg` with the real-time line's settings (the shipped -rt students): phase stem, half the norms folded,
    up-path 16,4; ship it with `framestyle quantize --int8` (or `distill --int8`)."""
    return mg(stem, blocks, stem_fit, head_res, fold, up)


@register("cond-mg")
def cond_mg(stem: str = "teacher", blocks: int = BLOCKS, stem_fit: int = 300, head_res: str = "quarter", up="16,8"):
    return MG(cond=True, stem=str(stem), blocks=int(blocks), stem_fit=int(stem_fit), head_res=str(head_res), up=up)
