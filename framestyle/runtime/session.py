"""ONNX Runtime sessions with clear errors for bad model files."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from ..errors import UserError


def default_threads() -> int:
    env = os.environ.get("FRAMESTYLE_THREADS")
    if env:
        return max(1, int(env))
    return max(1, min(os.cpu_count() or 1, 8))


def make_session(path, threads: Optional[int] = None):
    import onnxruntime as ort
    path = Path(path)
    if not path.exists():
        raise UserError(f"model file not found: {path}")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: empty model file (0 bytes)")
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = threads or default_threads()
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises several private exception types
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path}: not a valid ONNX model ({msg[:200]})") from None


def check_onnx(path) -> None:
    """Raise UserError unless the file loads and takes one [N,3,H,W]-like image input."""
    sess = make_session(path, threads=1)
    inputs = sess.get_inputs()
    if not inputs or len(inputs[0].shape) != 4:
        raise UserError(f"{path}: expected an image input [1,3,H,W], got {[i.shape for i in inputs]}")
