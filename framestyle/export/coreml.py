"""PyTorch student -> Core ML .mlpackage (ML Program) through coremltools.

Conversion and spec validation run on Linux; `MLModel.predict` is macOS-only, so outputs are not
compared here. Weights and compute are float16 (compute_precision FLOAT16, the Neural Engine's type).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..errors import UserError

PIP_LINE = "pip install torch==2.13.0 coremltools==9.0"


def require():
    try:
        import coremltools  # noqa: F401
    except ImportError:
        raise UserError(f"Core ML export needs coremltools: {PIP_LINE}") from None


def to_coreml(module, sample: np.ndarray, path: Path, input_name: str = "input") -> dict:
    """Trace and convert for the exact shape of `sample`; write the .mlpackage directory atomically."""
    require()
    import coremltools as ct
    import torch
    path = Path(path)
    if path.suffix != ".mlpackage":
        raise UserError(f"Core ML output must end in .mlpackage, got {path.name}")
    x = torch.from_numpy(sample)
    try:
        traced = torch.jit.trace(module.eval(), (x,))
        model = ct.convert(traced, inputs=[ct.TensorType(name=input_name, shape=sample.shape, dtype=np.float32)],
                           outputs=[ct.TensorType(name="output")], convert_to="mlprogram",
                           compute_precision=ct.precision.FLOAT16, minimum_deployment_target=ct.target.iOS15)
    except Exception as exc:
        raise UserError(f"Core ML conversion failed: {str(exc).strip().splitlines()[0][:300]}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as td:
        tmp = Path(td) / path.name
        model.save(str(tmp))
        info = validate(tmp)
        old = None
        if path.exists():
            old = Path(td) / "old"
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return info


def validate(path: Path) -> dict:
    """Load the package's spec (no prediction) and check it is an ML Program with one input and output."""
    require()
    import coremltools as ct
    try:
        spec = ct.models.MLModel(str(path), skip_model_load=True).get_spec()
    except Exception as exc:
        raise UserError(f"{path}: not a valid Core ML package ({exc})") from None
    if spec.WhichOneof("Type") != "mlProgram" or len(spec.description.input) != 1:
        raise UserError(f"{path}: unexpected Core ML spec ({spec.WhichOneof('Type')})")
    i, o = spec.description.input[0], spec.description.output[0]
    arr = i.type.multiArrayType
    return {"type": "mlProgram", "spec_version": int(spec.specificationVersion),
            "input": {"name": i.name, "shape": [int(s) for s in arr.shape], "dtype": int(arr.dataType)},
            "output": {"name": o.name}, "predict": "not run: Core ML prediction is macOS-only"}
