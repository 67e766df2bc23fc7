"""PyTorch net -> single-file ONNX with dynamic H,W, checked against PyTorch under ORT."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import UserError
from ..imageio import atomic_write_bytes


def export_onnx(net, path, opset: int = 18, fixed_hw: Optional[tuple] = None, check: bool = True,
                multiple: int = 8) -> dict:
    """Export `net` ([1,3,H,W] -> [1,3,H,W]) with input `input` / output `output`; returns check stats."""
    import torch
    net = net.eval()
    h, w = fixed_hw or (256, 256)
    dummy = torch.rand(1, 3, h, w)
    dyn = None if fixed_hw else {"input": {2: "height", 3: "width"}, "output": {2: "height", 3: "width"}}
    buf = io.BytesIO()
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, dummy, buf, input_names=["input"], output_names=["output"], dynamic_axes=dyn,
                          opset_version=opset, dynamo=False, do_constant_folding=True)
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    stats = {}
    if check:
        stats = check_against_torch(net, path, [(h, w)] if fixed_hw else [(64, 96), (8 * 42, 8 * 65)])
    return stats


def check_against_torch(net, path, sizes, tol: float = 1e-4) -> dict:
    import onnxruntime as ort
    import torch
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for (h, w) in sizes:
        x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(h * w))
        with torch.no_grad():
            ref = net(x).numpy()
        got = sess.run(None, {"input": x.numpy()})[0]
        worst = max(worst, float(np.abs(ref - got).max()))
    if worst > tol:
        raise UserError(f"exported ONNX differs from PyTorch by {worst:.2e} (> {tol})")
    return {"onnx_vs_torch_max_abs": worst}
