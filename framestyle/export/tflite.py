"""PyTorch student -> TFLite (LiteRT) through litert-torch, fixed input size, checked in the LiteRT interpreter."""
from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import numpy as np

from ..errors import UserError

PIP_LINE = "pip install torch==2.13.0 litert-torch==0.10.0 ai-edge-litert==2.3.0"


def require():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ INFO lines off the console
    try:
        import litert_torch  # noqa: F401
        from ai_edge_litert.interpreter import Interpreter  # noqa: F401
    except ImportError:
        raise UserError(f"TFLite export needs litert-torch and ai-edge-litert: {PIP_LINE}") from None


def to_tflite(module, sample: np.ndarray, path: Path, quiet: bool = True) -> Path:
    """Convert `module` (eval mode) for the exact shape of `sample`; write `path` atomically."""
    require()
    import litert_torch
    import torch
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part.tflite")
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
            model = litert_torch.convert(module.eval(), (torch.from_numpy(sample),))
            model.export(str(part))
    except Exception as exc:  # the converter raises many private types
        part.unlink(missing_ok=True)
        raise UserError(f"TFLite conversion failed: {str(exc).strip().splitlines()[0][:300]}") from None
    os.replace(part, path)
    return path


def run_tflite(path: Path, x: np.ndarray, threads: int = 2) -> np.ndarray:
    require()
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_path=str(path), num_threads=threads)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    if tuple(inp["shape"]) != tuple(x.shape) or np.dtype(inp["dtype"]) != x.dtype:
        raise UserError(f"{path}: expects {inp['dtype'].__name__} {list(inp['shape'])}, got {x.dtype} {list(x.shape)}")
    it.set_tensor(inp["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"]).copy()


def describe(path: Path) -> dict:
    require()
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_path=str(path))
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    return {"input": {"name": i["name"], "shape": [int(s) for s in i["shape"]], "dtype": np.dtype(i["dtype"]).name},
            "output": {"name": o["name"], "shape": [int(s) for s in o["shape"]], "dtype": np.dtype(o["dtype"]).name}}
