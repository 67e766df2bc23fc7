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
