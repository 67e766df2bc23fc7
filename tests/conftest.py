import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FRAMESTYLE_SHARED_DATA", ROOT.parent / "shared" / "data"))
IMAGES = SHARED / "images"
CLIPS = SHARED / "clips"
STARRY = IMAGES / "starry_night.jpg"
# the shared photos and painting (beside the clone); tests that read them skip, with this reason, without them
needs_images = pytest.mark.skipif(not all((IMAGES / n).is_file() for n in ("home.jpg", "starry_night.jpg")),
                                  reason="shared test images missing")


def not_a_style_model(path: Path, kind: str) -> Path:
    """An ONNX file that loads but is not a style model: `vector` takes float[5]; `grey` returns [1,1,H,W]."""
    from onnx import TensorProto, helper
    if kind == "vector":
        shapes, node = ([5], [5]), helper.make_node("Identity", ["input"], ["output"])
    else:
        shapes = ([1, 3, "h", "w"], [1, 1, "h", "w"])
        node = helper.make_node("ReduceMean", ["input"], ["output"], axes=[1], keepdims=1)
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, shapes[0])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, shapes[1])
    m = helper.make_model(helper.make_graph([node], kind, [x], [y]), opset_imports=[helper.make_opsetid("", 17)])
    path.write_bytes(m.SerializeToString())
    return path


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("fshome")
    monkeypatch.setenv("FRAMESTYLE_HOME", str(home))
    monkeypatch.setenv("FRAMESTYLE_THREADS", "2")
    return home


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A real (random-weight) fast student exported to ONNX: plumbing tests only."""
    torch = pytest.importorskip("torch")
    from framestyle.export.onnx import export_onnx
    from framestyle.nets import build
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny") / "tiny.onnx"
    export_onnx(build("fast", alpha=0.34, blocks=2), path, multiple=4)
    return path


@pytest.fixture(scope="session")
def home_photo():
    from framestyle.imageio import load_image
    return load_image(IMAGES / "home.jpg")


def run_cli(*args, input=None, env=None, timeout=300):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "framestyle.cli", *map(str, args)], input=input,
                          capture_output=True, timeout=timeout, env=e, cwd=str(ROOT))


def builtin_students():
    """Every shipped one-style model: fixed-style files and style entries (a named style of a multi-style file)."""
    from framestyle.zoo import list_models
    return [m for m in list_models() if m.builtin and (m.kind == "fixed" or m.style is not None)]
