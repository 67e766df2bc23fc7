"""Arbitrary-style backends for the Stylizer: `--method magenta|student|adain`.

Every backend has the same surface:
    be = make_backend("student")                       # or "magenta", "adain"; model= a name or .onnx path
    state = be.prepare(style_image)                    # once per style (Magenta vector / AdaIN stats)
    state = be.from_vector(vec)                        # magenta/student only: a bank vector, no predictor
    out = be.transform(frame_uint8, state)             # every frame: uint8 HxWx3 -> uint8 HxWx3

magenta: the float Magenta transform (slower than the default student: docs/arbitrary.md). student: a distilled conditional net
(card kind "arbitrary", method "student") fed the Magenta style vector, computed once by the predictor.
adain: EfficientNet-Lite0 encoder + AdaIN + small decoder; `alpha` (0..1) blends content and style features.
Its style state is the model's `stats` vector (160 for the multi-level design, 80 for the old block4-only one:
the size is read from the ONNX input `style_stats`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..errors import UserError
from . import ops
from .binding import Frames, frames_for
from .session import check_model, make_session

from ..zoo.catalogue import METHOD_MODELS, METHODS


def _model_path(model: Union[str, Path, None], method: str) -> Path:
    from ..zoo import get_model
    info = get_model(str(model) if model else METHOD_MODELS[method])
    want = info.card.get("method")
    if info.kind != "arbitrary" or want != method:
        raise UserError(f"model {info.name!r} is not an arbitrary-style {method} model "
                        f"(card kind={info.kind!r}, method={want!r})")
    return info.path


class _OnnxBackend:
    method = ""
    _outputs = ("output",)

    def __init__(self, model=None, threads: Optional[int] = None, teacher=None):
        self.path = _model_path(model, self.method)
        self.threads = threads
        self.sess = make_session(self.path, threads)
        check_model(self.sess, self.path)
        from ..zoo.card import load_card
        self.card = load_card(self.path)
        self.multiple = int(self.card.get("input", {}).get("multiple", 8))
        self._teacher = teacher
        self._bufs = {}

    @property
    def teacher(self):
        if self._teacher is None:
            from ..zoo.magenta import MagentaTeacher
            self._teacher = MagentaTeacher(threads=self.threads)
        return self._teacher

    def _extra(self, state) -> dict:
        raise NotImplementedError

    def transform(self, frame: np.ndarray, state) -> np.ndarray:
        """uint8 HxWx3 RGB -> uint8 HxWx3 (an internal buffer reused next call of this size: copy to keep)."""
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise UserError(f"transform() takes uint8 HxWx3 RGB frames, got {frame.dtype} {frame.shape}")
        h, w = frame.shape[:2]
        if min(h, w) < 16:
            raise UserError(f"frame is too small ({w}x{h}); both sides need at least 16 px")
        if self.card.get("specialise"):
            return self._run_fixed(frame, state)
        extra = self._extra(state)
        b = frames_for(self._bufs, frame, lambda h, w: Frames(
            self.sess, h, w, self.multiple, "input", "output", extra, also=self._outputs[1:]), extra)
        return b.run(frame, extra)

    _fixed = None  # (style vector, session, u8, input name, output name, frame buffers) of a specialising model

    def _run_fixed(self, frame: np.ndarray, state) -> np.ndarray:
        """A real-time conditional student (card `specialise`: the built-in `arbitrary`, a cond-mg): this style's fixed int8 graph,
        made once per style (runtime.specialise, cached) and run on the uint8 byte path like the fixed students."""
        v = np.asarray(state, np.float32).reshape(-1)
        if self._fixed is None or not np.array_equal(self._fixed[0], v):
            from .session import open_frames_session
            from .specialise import specialised
            self._fixed = (v.copy(), *open_frames_session(specialised(self.path, v), self.threads), {})
        _, sess, u8, i, o, bufs = self._fixed
        return frames_for(bufs, frame, lambda h, w: Frames(sess, h, w, self.multiple, i, o, {}, u8)).run(frame)


class StudentBackend(_OnnxBackend):
    """Distilled conditional student; state = a (100,) Magenta style vector."""
    method = "student"
    _outputs = ("output",)

    def style_vector(self, style_image) -> np.ndarray:
        from ..imageio import load_image
        return self.teacher.style_vector(load_image(style_image, "style image"))

    def prepare(self, style_image) -> np.ndarray:
        return self.style_vector(style_image)

    def from_vector(self, vec) -> np.ndarray:
        try:
            v = np.asarray(vec, np.float32)
        except (TypeError, ValueError):
            raise UserError(f"a style vector has 100 numbers, got {vec!r:.40}; for a named style give "
                            "--style-bank FILE --style NAME") from None
        if v.size != 100 or not np.all(np.isfinite(v)):
            raise UserError(f"a style vector has 100 finite values, got shape {v.shape}")
        return v.reshape(100)

    def _extra(self, state) -> dict:
        return {self.card.get("style_input", "style"): np.asarray(state, np.float32).reshape(1, 100)}


class AdainBackend(_OnnxBackend):
    """AdaIN; state = style stats [1,dim] (dim from the model), alpha fixed on the backend.

    `alpha` 0 = the decoded photo, 1 = full style.
    """
    method = "adain"
    _outputs = ("output", "stats")

    def __init__(self, model=None, threads: Optional[int] = None, alpha: float = 1.0, style_size: int = 256):
        super().__init__(model, threads)
        self.alpha = check_alpha(alpha)
        self.style_size = style_size
        self.dim = stats_size(self.sess)

    def style_stats(self, style_image) -> np.ndarray:
        """Feature mean/std of a style picture (its longer side resized to style_size)."""
        from ..imageio import load_image
        from ..train.data import resize_long
        img = resize_long(load_image(style_image, "style image"), self.style_size)
        h, w = img.shape[:2]
        hp, wp = ops.padded_size(h, w, self.multiple)
        x = ops.to_nchw(img, np.zeros((1, 3, hp, wp), np.float32))
        return self.sess.run(["stats"], {"input": x, "style_stats": np.zeros((1, self.dim), np.float32),
                                         "alpha": np.zeros(1, np.float32)})[0]

    def prepare(self, style_image):
        return self.style_stats(style_image)

    def _extra(self, state) -> dict:
        st = np.asarray(state, np.float32)
        if st.size != self.dim:
            raise UserError(f"AdaIN model {self.path.name} takes {self.dim} style stats, got {st.size} "
                            "(stats from another AdaIN model? prepare() the style again)")
        return {"style_stats": st.reshape(1, self.dim),
                "alpha": np.array([self.alpha], np.float32)}


def stats_size(sess) -> int:
    """Length of an AdaIN model's `style_stats` input ([1, N] in the ONNX graph)."""
    for i in sess.get_inputs():
        if i.name == "style_stats":
            n = i.shape[-1] if i.shape else None
            if isinstance(n, int) and n > 0:
                return n
            raise UserError(f"AdaIN model input style_stats has no fixed size (shape {i.shape})")
    raise UserError("not an AdaIN model: no `style_stats` input")


class MagentaBackend:
    """The float Magenta transform itself; state = a (100,) style vector."""
    method = "magenta"

    def __init__(self, model=None, threads: Optional[int] = None, teacher=None):
        if teacher is None:
            from ..zoo.magenta import MagentaTeacher
            teacher = MagentaTeacher(threads=threads)
        self.teacher = teacher

    def style_vector(self, style_image) -> np.ndarray:
        from ..imageio import load_image
        return self.teacher.style_vector(load_image(style_image, "style image"))

    prepare = style_vector
    from_vector = StudentBackend.from_vector

    def transform(self, frame: np.ndarray, state) -> np.ndarray:
        out = self.teacher.transform(frame, state)
        return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


def check_alpha(alpha) -> float:
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise UserError(f"alpha must be a number between 0 and 1, got {alpha!r}") from None
    if not 0.0 <= a <= 1.0:
        raise UserError(f"alpha must be between 0 and 1, got {alpha}")
    return a


def make_backend(method: str, model=None, threads: Optional[int] = None, **kw):
    """A backend by method name: magenta | student | adain."""
    if method not in METHODS:
        raise UserError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    cls = {"magenta": MagentaBackend, "student": StudentBackend, "adain": AdainBackend}[method]
    return cls(model, threads, **kw)


def initial_state(backend, style_image=None, style_bank=None, style: Optional[str] = None):
    """The backend state from a style picture, or from `--style-bank FILE [--style NAME|blend]`."""
    if style_image is not None and style_bank is not None:
        raise UserError("give either a style image or --style-bank, not both")
    if style_image is not None:
        return backend.prepare(style_image)
    if style_bank is not None:
        if not hasattr(backend, "from_vector"):
            raise UserError(f"--style-bank holds Magenta style vectors; method {backend.method!r} needs "
                            "a style image (--style-image)")
        from ..zoo.styles import resolve_style
        return backend.from_vector(resolve_style(style_bank, style))
    raise UserError(f"method {backend.method!r} needs a style: --style-image IMG or --style-bank FILE --style NAME")


# -- glue for the Stylizer and the CLI ------------------------------------------------------

def attach(info, threads: Optional[int] = None, style=None, style_image=None, style_bank=None,
           alpha: float = 1.0):
    """For Stylizer.__init__: (backend, state) for a student/adain model, None for Magenta itself.

    style: a (100,) vector, or a style name / blend string when style_bank is given.
    """
    method = info.card.get("method", "magenta") if info.kind == "arbitrary" else None
    if method not in ("student", "adain"):
        return None
    kw = {"alpha": alpha} if method == "adain" else {}
    be = make_backend(method, str(info.path), threads, **kw)
    if style_image is None and style_bank is None and style is not None:
        if method == "adain":
            raise UserError("AdaIN takes a style image (--style-image), not a style vector")
        return be, be.from_vector(style)
    return be, initial_state(be, style_image, style_bank, style)
