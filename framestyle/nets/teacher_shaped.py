"""Machinery shared by the teacher-shaped students (`ms26`, `mg`/`cond-mg`, `multi-rt`): nets that start from a
teacher's own weights and rewrite its expensive full-resolution ends.

- phase forms (exact): `phase_conv` / `phase_kernel` (an up-path conv at the input map's resolution, phases as
  channels), `phase_stem` (a 9x9 + stride-2 stem pair on 2x2 phases), `SpaceToDepth` (the one-hot 2x2 conv);
  `shrink_kernel` (a smaller kernel's start: taps moved inward);
- folding a norm at its average statistics: `norm_stats`, `fold_affine`, `fold_conv`, `fold_pairs`;
- `fit_stem`: a cheap stem fitted to the teacher's 1/4-resolution features; `set_convs`: copy stem weights.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

FOLDS = ("none", "head", "half", "all")  # which norms become conv biases (the nets' `folded` lists)
# where the up-path convs run: per conv (phases per side of its input, upsample, pixel shuffle after it)
PLANS = {"quarter": ((1, 2, 1), (2, 2, 1), (4, 1, 4)),   # all three at 1/4 resolution
         "half": ((1, 2, 2), (1, 2, 1), (2, 1, 2))}      # the first at 1/4, the last two at 1/2 (fewer MACs)


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


@torch.no_grad()
def set_convs(stem: nn.Sequential, weights) -> None:
    """Copy (weight, bias) pairs into the stem's convs, in order."""
    for conv, (w, b) in zip([m for m in stem if isinstance(m, nn.Conv2d)], weights):
        conv.weight.copy_(w)
        conv.bias.copy_(b)


def phase_stem(w0, b0, w1, b1):
    """The teacher's first two stem convs (9x9 stride 1, then 3x3 stride 2, zero padding) on a 2x2-phase input
    (PixelUnshuffle(2): channel c*4 + py*2 + px): a 5x5 conv whose outputs are the first conv's four phases,
    then a 3x3 conv reading them. Same function, no full-resolution tensor."""
    co0, ci0, k0, _ = w0.shape
    a = torch.zeros(co0 * 4, ci0 * 4, 5, 5)
    for py in range(2):
        for px in range(2):
            for ky in range(k0):
                oy, qy = divmod(py + ky - k0 // 2, 2)
                for kx in range(k0):
                    ox, qx = divmod(px + kx - k0 // 2, 2)
                    rows, cols = torch.arange(co0) * 4 + py * 2 + px, torch.arange(ci0) * 4 + qy * 2 + qx
                    a[rows[:, None], cols[None, :], oy + 2, ox + 2] += w0[:, :, ky, kx]
    co1, ci1 = w1.shape[:2]
    b = torch.zeros(co1, ci1 * 4, 3, 3)
    for ky in range(3):
        oy, py = divmod(ky - 1, 2)
        for kx in range(3):
            ox, px = divmod(kx - 1, 2)
            b[:, torch.arange(ci1) * 4 + py * 2 + px, oy + 1, ox + 1] += w1[:, :, ky, kx]
    return (a, b0.repeat_interleave(4)), (b, b1)


def shrink_kernel(w: torch.Tensor, k: int) -> torch.Tensor:
    """A k x k kernel from a larger odd one: every tap added to the nearest tap of the centred k x k window (the
    same response to a constant input, close on smooth images; far closer than cropping the centre)."""
    K, r = w.shape[-1], (w.shape[-1] - k) // 2
    out = torch.zeros(*w.shape[:2], k, k, dtype=w.dtype)
    for i in range(K):
        for j in range(K):
            out[:, :, min(max(i - r, 0), k - 1), min(max(j - r, 0), k - 1)] += w[:, :, i, j]
    return out


@torch.no_grad()
def load_export(net: nn.Module, path, what: str = "this net", more=None) -> nn.Module:
    """Load into `net` the weights of an ONNX file it exported (initializers named like its state dict, the
    exporter's Identity aliases resolved); `more(graph)`: further weights by state-dict name that the exporter
    inlined elsewhere. ValueError when the file is not such an export."""
    import onnx
    from ..zoo.onnx_surgery import named_weights
    g = onnx.load(str(path)).graph
    w = named_weights(g)
    for k, v in (more(g) if more is not None else {}).items():
        w.setdefault(k, v)
    state = net.state_dict()
    missing = [k for k in state if k not in w]
    if missing:
        raise ValueError(f"{path}: not an export of {what} (missing {missing[:3]})")
    net.load_state_dict({k: torch.from_numpy(w[k].copy()) for k in state})
    return net


def load_fixed_export(net: nn.Module, path, what: str = "this net") -> nn.Module:
    """Load into a fixed-style `net` the weights of an ONNX file it exported, float or int8 (static QDQ weights
    dequantised). Its live instance norms' scale and shift are read from the graph's InstanceNormalization nodes
    (named after the module, e.g. /res.0.1/InstanceNormalization) into the norm's style maps as biases (the maps'
    weights zero, so any style vector gives them). ValueError when the file is not such an export."""
    import onnx
    from onnx import numpy_helper
    from ..zoo.onnx_surgery import named_weights
    g = onnx.load(str(path)).graph
    w = named_weights(g)

    def value(k):
        if k in w:
            return w[k]
        for q, sc, zp in ((k + "_quantized", k + "_scale", k + "_zero_point"),
                          (k + "_quantized", k + "_quantized_scale", k + "_quantized_zero_point")):
            if q in w and sc in w:
                a, s = w[q].astype(np.float64), w[sc].astype(np.float64)
                z = w[zp].astype(np.float64) if zp in w else 0.0
                shape = (-1,) + (1,) * (a.ndim - 1) if np.ndim(s) == 1 and a.ndim > 1 else np.shape(s)
                return ((a - np.reshape(z, shape)) * np.reshape(s, shape)).astype(np.float32)
        return None

    init = {i.name for i in g.initializer}
    norms = {}
    for n in g.node:  # /res.0.1/InstanceNormalization -> res.0.1
        if n.op_type == "InstanceNormalization" and n.input[1] in init and n.name.count("/") >= 2:
            norms[n.name.split("/")[1]] = (w[n.input[1]], w[n.input[2]])
    state, new = net.state_dict(), {}
    for k, t in state.items():
        mod, _, leaf = k.rpartition(".")
        owner = mod.rpartition(".")[0]
        if k == "vec" or (leaf == "weight" and mod.endswith((".scale", ".shift"))):
            v = np.zeros(tuple(t.shape), np.float32)
        elif leaf == "bias" and mod.endswith((".scale", ".shift")) and owner in norms:
            v = norms[owner][0 if mod.endswith(".scale") else 1]
        else:
            v = value(k)
        if v is None or int(np.size(v)) != t.numel():
            raise ValueError(f"{path}: not an export of {what} (no {k})")
        new[k] = torch.from_numpy(np.array(v, np.float32).reshape(tuple(t.shape)))
    net.load_state_dict(new)
    return net


class SpaceToDepth(nn.Module):
    """PixelUnshuffle(2) on RGB as a fixed one-hot 2x2 stride-2 conv: ONNX Runtime runs it ~3x faster than the
    reshape/transpose PixelUnshuffle exports to (the transpose was ~6% of an int8 cond-mg frame)."""

    def __init__(self):
        super().__init__()
        from ..runtime.u8ends import s2d_one_hot  # the same weights the uint8 runtime recognises
        self.register_buffer("weight", torch.from_numpy(s2d_one_hot()))

    def forward(self, x):
        return F.conv2d(x, self.weight, stride=2)


@torch.no_grad()
def norm_stats(net: nn.Module, norms, inputs, n: int = 48, size: int = 256, run=None) -> dict:
    """For each norm module in `norms` (InstanceNorm / GroupNorm / mgnet.StyleNorm, keyed by id): each channel's
    mean and variance of its (first) input, averaged over `n` random `size` crops of `inputs` (uint8 HxWx3) run
    through `net` (or `run(x)`, e.g. a conditional net at one style). GroupNorm and StyleNorm pool a group's (a
    channel's phases') channels, as the norm does."""
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
        (run or net)(torch.from_numpy(np.ascontiguousarray(x[t:t + c, l:l + c])).permute(2, 0, 1)[None].float() / 255)
    for h in hooks:
        h.remove()
    return {k: (v[0] / v[2], v[1] / v[2]) for k, v in acc.items()}


def fold_affine(stats, eps: float, gamma, beta):
    """A norm at fixed statistics as a per-channel affine: (x - mean) / sqrt(var + eps) * gamma + beta
    = x * scale + shift -> (scale, shift)."""
    mu, var = stats
    scale = gamma / torch.sqrt(var + eps)
    return scale, beta - mu * scale


@torch.no_grad()
def fold_conv(dst: nn.Conv2d, src: nn.Conv2d, stats, eps: float, gamma, beta) -> None:
    """dst = src followed by its norm at fixed statistics: (src(x) - mean) / sqrt(var + eps) * gamma + beta."""
    scale, shift = fold_affine(stats, eps, gamma, beta)
    dst.weight.copy_(src.weight * scale[:, None, None, None])
    bias = src.bias if src.bias is not None else torch.zeros_like(shift)
    dst.bias.copy_(bias * scale + shift)


@torch.no_grad()
def fold_pairs(src: nn.Module, src_pairs, dst_pairs, inputs, folded, affine) -> int:
    """Copy (conv, norm) pairs of `src` (every norm live) into a twin's pairs: where `folded(dst_norm)`, the conv
    gets the norm at its average statistics on `inputs` (`affine(src_norm)` -> (gamma, beta, eps)); elsewhere
    conv and norm are copied. -> the number of norms folded."""
    stats = norm_stats(src, [n for _, n in src_pairs], inputs)
    k = 0
    for (c, n), (c2, n2) in zip(src_pairs, dst_pairs):
        if folded(n2):
            g, b, eps = affine(n)
            fold_conv(c2, c, stats[id(n)], eps, g, b)
            k += 1
        else:
            c2.load_state_dict(c.state_dict())
            n2.load_state_dict(n.state_dict())
    return k


def fit_stem(stem, ref, inputs, steps: int, progress: bool = True, batch: int = 4, params=None, cond=None,
             crop: int = 256) -> dict:
    """Adam on MSE between `stem(x)` and the teacher's own 1/4-resolution features `ref(x)` (random `crop`
    crops of `inputs`). `params`: what to train (default: the stem's parameters); `cond(rng, batch)`: a further
    argument for both (e.g. per-sample style weights of a conditional net)."""
    from tqdm import tqdm
    rng = np.random.default_rng(0)
    opt = torch.optim.Adam(params if params is not None else stem.parameters(), lr=2e-3)
    big = [x for x in inputs if min(x.shape[:2]) >= crop] or list(inputs)
    c = min(crop, min(min(x.shape[:2]) for x in big)) // 4 * 4
    loss = None
    for step in tqdm(range(steps), desc="fit stem", disable=not progress):
        xs = []
        for _ in range(batch):
            x = big[rng.integers(len(big))]
            t, l = rng.integers(0, x.shape[0] - c + 1), rng.integers(0, x.shape[1] - c + 1)
            xs.append(torch.from_numpy(np.ascontiguousarray(x[t:t + c, l:l + c])).permute(2, 0, 1).float() / 255)
        args = (torch.stack(xs),) + ((cond(rng, batch),) if cond is not None else ())
        with torch.no_grad():
            target = ref(*args)
        for g in opt.param_groups:
            g["lr"] = 2e-3 * (0.05 + 0.95 * (1 - step / steps))
        loss = F.mse_loss(stem(*args), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return {"stem_fit_steps": steps, "stem_fit_mse": round(float(loss.detach()), 5) if loss is not None else None}
