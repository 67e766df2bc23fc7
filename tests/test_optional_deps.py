"""Every command without its optional package says which pip command installs it: one `error:` line, exit 2.

The CLI runs in a subprocess whose import system refuses the hidden modules (as on a base install).
"""
import subprocess
import sys

import pytest

from conftest import IMAGES, ROOT

RUNNER = """
import sys
HIDDEN = set(sys.argv[1].split(","))

class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Hide())
from framestyle.cli import main
sys.exit(main(sys.argv[2:]))
"""
TORCH = "pip install torch==2.13.0"
PHOTO = str(IMAGES / "home.jpg")
CASES = [  # (hidden modules, argv, what the error line must name)
    ("torch", ["distill", "--teacher", "multistyle26:7", "--steps", "1", "-o", "dx"], TORCH),
    ("torch", ["train", "--style-image", PHOTO, "--steps", "1", "-o", "tx"], TORCH),
    ("torch", ["train-paired", "--inputs", "a", "--targets", "b", "--steps", "1", "-o", "px"], TORCH),
    ("torch", ["train-arbitrary", "--steps", "1"], TORCH),
    ("torch", ["train-adain", "--steps", "1"], TORCH),
    ("torch", ["prune", "graffiti", "--ratio", "0.5", "-o", "pr"], TORCH),
    ("torch", ["binarize", "graffiti", "-o", "bi"], TORCH),
    ("torch", ["export", "ember", "-o", "{tmp}/x.onnx"], TORCH),
    ("torch", ["eval", "fidelity", "--model", "ember"], TORCH),
    ("onnxconverter_common", ["quantize", "ember", "--fp16", "-o", "f16"],
     "pip install onnxconverter-common"),
    ("skimage", ["quantize", "ember", "--int8", "-o", "i8"], "pip install scikit-image"),
    ("torch", ["quantize", "ember", "--int8", "-o", "i8"], TORCH),
    ("skimage", ["bench", "--models", "ember", "--sizes", "256x256", "--runs", "1"], "pip install scikit-image"),
    ("uvicorn", ["serve", "--port", "0"], "uvicorn"),
    ("fastapi", ["serve", "--port", "0"], "pip install fastapi"),
    ("litert_torch,ai_edge_litert", ["export", "ember", "--to", "tflite", "--size", "64x64",
                                     "-o", "{tmp}/x.tflite"], "litert-torch==0.10.0"),
    ("coremltools", ["export", "ember", "--to", "coreml", "--size", "64x64", "-o", "{tmp}/x.mlpackage"],
     "pip install torch==2.13.0 coremltools"),
    ("ray", ["batch", str(IMAGES), "-o", "{tmp}/b", "--engine", "ray"], 'pip install "ray[data]'),
    ("mss", ["live", "--source", "screen", "--sink", "null", "--duration", "1"], "pip install mss"),
    ("pyvirtualcam", ["live", "--source", PHOTO, "--sink", "virtualcam", "--duration", "1"],
     "pip install pyvirtualcam"),
]


@pytest.mark.parametrize("hidden,argv,pip", CASES, ids=[f"{c[1][0]}-{c[0]}" for c in CASES])
def test_missing_optional_package(hidden, argv, pip, tmp_path):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    r = subprocess.run([sys.executable, "-c", RUNNER, hidden, *argv], capture_output=True, text=True,
                       timeout=120, cwd=str(ROOT))
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2, r.stderr
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in r.stderr, r.stderr
    assert pip in lines[0], lines[0]
    assert not list(tmp_path.iterdir()), "nothing is written before the check"


def test_base_commands_need_no_extra(tmp_path):
    """With every optional package hidden, the everyday command still works."""
    hidden = "torch,onnxconverter_common,uvicorn,fastapi,litert_torch,coremltools,ray,mss,pyvirtualcam"
    r = subprocess.run([sys.executable, "-c", RUNNER, hidden, "stylize", PHOTO, "-o", str(tmp_path / "o.png"),
                        "--model", "ember"], capture_output=True, text=True, timeout=120, cwd=str(ROOT))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "o.png").stat().st_size > 0
