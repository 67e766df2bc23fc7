"""Binary-weight student (XNOR-Net style): W ≈ sign(W) · mean|W| per output channel.

All convolutions except the first and the last are binarised (the stem sees raw pixels and the head writes
them: binarising those costs the most quality for the least size). Training uses a straight-through
estimator from the float student's outputs. The ONNX keeps the binarised weights as float32 (ORT has no
1-bit convolution), so it runs at float speed; the packed size (1 bit per weight + one float scale per
output channel, other parameters float32) is reported as the theoretical storage.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import List, Union

from ..errors import UserError
from ..zoo import ModelInfo
from .from_onnx import torch_from_onnx


def _binarizer():
    import torch

    class Binarize(torch.nn.Module):
        def forward(self, w):
            scale = w.abs().mean(dim=tuple(range(1, w.dim())), keepdim=True)
            b = torch.where(w >= 0, 1.0, -1.0) * scale
            return b.detach() + (w - w.detach())  # straight-through: exactly b forward, identity gradient to w
    return Binarize()


def inner_convs(net) -> List:
    """Every Conv2d except the first and the last in module order."""
    import torch
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    if len(convs) < 3:
        raise UserError("binarize needs a net with at least 3 convolutions (first and last stay float)")
    return convs[1:-1]


def attach(net) -> List:
    from torch.nn.utils import parametrize
    convs = inner_convs(net)
    for c in convs:
        parametrize.register_parametrization(c, "weight", _binarizer())
    return convs


def bake(convs) -> None:
    """Replace the parametrisation by its binary value (float tensor with 2 values per output channel)."""
    from torch.nn.utils import parametrize
    for c in convs:
        parametrize.remove_parametrizations(c, "weight", leave_parametrized=True)


def packed_bytes(net, convs) -> dict:
    binw = sum(c.weight.numel() for c in convs)
    scales = sum(c.weight.shape[0] for c in convs)
    total = sum(p.numel() for p in net.parameters())
    other = total - binw
    packed = (binw + 7) // 8 + 4 * (scales + other)
    return {"binary_weights": int(binw), "scales": int(scales), "float_params": int(other),
            "packed_bytes": int(packed), "float32_bytes": int(4 * total)}


def binarize(model: Union[str, Path, ModelInfo], name: str, steps: int = 400, lr: float = 1e-3, images=None,
             progress: bool = True, imgs=None, force: bool = False) -> dict:
    """Binarise the inner conv weights of a student, fine-tune with STE from the float model, register `name`."""
    import copy
    from ..export.onnx import export_onnx
    from .finetune import finetune
    from .quantize import check_name, register_derived
    orig, src = torch_from_onnx(model)
    check_name(name, src.name, force=force)
    net = copy.deepcopy(orig)
    convs = attach(net)
    ft = finetune(net, orig, steps, lr=lr, progress=progress, imgs=imgs, desc=f"binarize {name}")
    bake(convs)
    net.eval()
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td) / f"{name}.onnx"
        export_onnx(net, tmp, multiple=src.multiple)
        extra = {"arch": getattr(orig, "arch_name", src.card.get("arch")),
                 "arch_kwargs": src.card.get("arch_kwargs", {}), "binary_layers": len(convs),
                 "float_layers": "first and last conv, biases, norms", "packing": packed_bytes(net, convs),
                 "note": "binarised weights stored as float32 in the ONNX: same speed as float",
                 "finetune": ft}
        return register_derived(tmp, src, name, "binary-weights", images, **extra)
