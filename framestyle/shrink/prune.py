"""Structured channel pruning of a `fast`-family student (fast, fast-tiny, fast8).

The body of FastStudent is one residual stream of C channels shared by the stem, every block (depthwise,
instance norm, pointwise) and the head. Pruning removes whole channels of that stream: the ones with the
lowest L1 norm, summed over every weight that reads or writes the channel (each layer's norms divided by
that layer's mean so no layer dominates). Then a short distillation from the original restores quality.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Union

from ..errors import UserError
from ..zoo import ModelInfo
from .from_onnx import torch_from_onnx

BASE = 48  # FastStudent's base width: channels = round(BASE * alpha)


def channel_scores(net):
    """Per-channel importance of the body stream (higher = keep)."""
    import torch
    parts = [net.stem.weight.abs().sum((1, 2, 3)), net.head.weight.abs().sum((0, 2, 3))]
    for b in net.body:
        parts += [b.dw.weight.abs().sum((1, 2, 3)), b.pw.weight.abs().sum((1, 2, 3)),
                  b.pw.weight.abs().sum((0, 2, 3))]
    return sum(p / (p.mean() + 1e-12) for p in parts).detach() if parts else torch.zeros(0)


def prune_channels(net, keep: int):
    """A new FastStudent with `keep` body channels, weights copied from `net` (the highest-scoring channels)."""
    import torch
    from ..nets import build
    from ..nets.fast import FastStudent
    if not isinstance(net, FastStudent):
        raise UserError(f"pruning supports the fast family (fast, fast-tiny, fast8), not {type(net).__name__}")
    c = net.stem.out_channels
    if not 8 <= keep <= c:
        raise UserError(f"cannot keep {keep} of {c} channels (the minimum is 8)")
    idx = torch.sort(torch.topk(channel_scores(net), keep).indices).values
    arch = getattr(net, "arch_name", "fast")
    kwargs = dict(getattr(net, "arch_kwargs", {}) or {})
    kwargs.update(alpha=keep / BASE, blocks=len(net.body))
    new = build(arch, **kwargs)
    if new.stem.out_channels != keep or new.factor != net.factor:
        raise UserError(f"arch {arch!r} cannot be rebuilt with {keep} channels")
    sd, out = net.state_dict(), {}
    for k, v in new.state_dict().items():
        w = sd[k]
        if k.startswith("stem."):
            w = w[idx]
        elif k == "head.weight":
            w = w[:, idx]
        elif k.startswith("body.") and k.endswith("pw.weight"):
            w = w[idx][:, idx]
        elif k.startswith("body."):
            w = w[idx]
        if tuple(w.shape) != tuple(v.shape):
            raise UserError(f"pruning bug: {k} {tuple(w.shape)} vs {tuple(v.shape)}")
        out[k] = w.clone()
    new.load_state_dict(out)
    return new.eval()


def count_params(net) -> int:
    return int(sum(p.numel() for p in net.parameters()))


def prune(model: Union[str, Path, ModelInfo], ratio: float, name: str, steps: int = 300, lr: float = 1e-3,
          images=None, progress: bool = True, imgs=None, force: bool = False) -> dict:
    """Prune `ratio` of the body channels, fine-tune `steps` from the original, register as `name`."""
    import copy
    from ..export.onnx import export_onnx
    from .finetune import finetune
    from .quantize import check_name, register_derived
    if not 0.0 < ratio < 1.0:
        raise UserError(f"--ratio must be between 0 and 1 (fraction of channels removed), got {ratio}")
    orig, src = torch_from_onnx(model)
    check_name(name, src.name, force=force)
    c = getattr(getattr(orig, "stem", None), "out_channels", 0)
    keep = max(8, int(round(c * (1.0 - ratio))))
    pruned = prune_channels(orig, keep)
    ft = finetune(pruned, copy.deepcopy(orig), steps, lr=lr, progress=progress, imgs=imgs, desc=f"prune {name}")
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td) / f"{name}.onnx"
        export_onnx(pruned.eval(), tmp, multiple=src.multiple)
        extra = {"arch": pruned.arch_name, "arch_kwargs": pruned.arch_kwargs, "params": count_params(pruned),
                 "source_params": count_params(orig), "channels": [c, keep], "ratio": ratio, "finetune": ft}
        return register_derived(tmp, src, name, f"prune-{round(ratio * 100)}%", images, **extra)
