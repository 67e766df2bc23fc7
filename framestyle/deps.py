"""Optional dependencies: each command checks its extras at the start and names the exact pip command."""
from __future__ import annotations

import importlib.util

from .errors import UserError

TORCH = "torch==2.13.0"
# module -> the pip line that installs it (torch pinned: a loose spec pulls a multi-GB CUDA build)
PIP = {
    "torch": f"pip install {TORCH}",
    "onnxscript": f"pip install {TORCH} onnxscript",
    "onnxconverter_common": "pip install onnxconverter-common==1.16.0",
    "fastapi": 'pip install fastapi "uvicorn[standard]" python-multipart',
    "uvicorn": 'pip install fastapi "uvicorn[standard]" python-multipart',
    "multipart": "pip install python-multipart",
    "litert_torch": f"pip install {TORCH} litert-torch==0.10.0 ai-edge-litert==2.3.0",
    "ai_edge_litert": f"pip install {TORCH} litert-torch==0.10.0 ai-edge-litert==2.3.0",
    "coremltools": f"pip install {TORCH} coremltools==9.0",
    "ray": 'pip install "ray[data]==2.60.0"',
    "mss": "pip install mss",
    "pyvirtualcam": "pip install pyvirtualcam",
    "skimage": "pip install scikit-image",
}


def missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):
        return True


def require(*modules: str, what: str = "this command") -> None:
    """UserError naming one pip command when any of `modules` is not installed."""
    gone = [m for m in modules if missing(m)]
    if gone:
        lines = []
        for m in gone:
            line = PIP.get(m, f"pip install {m}")
            if line not in lines:
                lines.append(line)
        cmd = lines[0] if len(lines) == 1 else "; ".join(lines)
        raise UserError(f"{what} needs {', '.join(gone)}, which is not installed: {cmd}")
