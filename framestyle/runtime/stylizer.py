"""`Stylizer`: one object that stylises images and video frames with any model in the zoo.

    st = Stylizer()                        # the catalogue's default (framestyle.zoo.default_model())
    out = st.stylize("photo.jpg")          # uint8 HxWx3
    for frame in frames: show(st.process(frame))   # render loop: buffers reused, no reallocation
"""
from __future__ import annotations

import threading
from typing import Optional, Union

import numpy as np

from ..errors import UserError
from ..imageio import ImageLike, load_image
from ..zoo import ModelInfo, get_model, pick_model
from ..zoo.teachers import parse_style
from . import ops
from .binding import Frames, frames_for
from .session import check_graph, open_frames_session


def check_strength(strength: float) -> float:
    try:
        s = float(strength)
    except (TypeError, ValueError):
        raise UserError(f"strength must be a number between 0 and 1, got {strength!r}") from None
    if not 0.0 <= s <= 1.0 or s != s:
        raise UserError(f"strength must be between 0 and 1, got {strength}")
    return s


class Stylizer:
    """Stylise uint8 RGB images with a zoo model.

    model: a zoo name or an .onnx path (default: zoo.pick_model: a method's model, Magenta for a style image,
        else the catalogue's default).
    style: for multi-style models, an index, a blend string "3:0.5,12:0.5", a dict or 26 weights.
    style_image: for arbitrary-style models (magenta), any picture.
    strength: 0..1 blend toward the photo (arbitrary models interpolate the style vector instead).
    preserve_color: keep the photo's chroma, take the stylised luminance.
    tile: longest side processed in one piece; larger images are tiled with `tile_overlap` pixels of overlap.
    """

    def __init__(self, model: Union[str, ModelInfo, None] = None, *, style=None, style_image=None,
                 strength: float = 1.0, preserve_color: bool = False, threads: Optional[int] = None,
                 tile: int = 2048, tile_overlap: int = 64, max_size: Optional[int] = None,
                 method: Optional[str] = None, style_bank=None, alpha: float = 1.0):
        from .arbitrary import attach
        if not isinstance(model, ModelInfo):  # the one rule: model, else method, else style image, else default
            model = pick_model(model, style_image if style_bank is None else style_bank, method)
        self.info = model if isinstance(model, ModelInfo) else get_model(model)
        self.threads = threads
        self.strength = check_strength(strength)
        self.preserve_color = bool(preserve_color)
        if tile < 64 or tile_overlap < 0 or tile_overlap * 2 >= tile:
            raise UserError("tile must be >= 64 and larger than twice the overlap")
        self.tile, self.tile_overlap = int(tile), int(tile_overlap)
        if max_size is not None and max_size < 16:
            raise UserError(f"max_size must be at least 16, got {max_size}")
        self.max_size = max_size
        self._sess = None
        self._u8 = False
        self._bound = {}
        self._lock = threading.Lock()
        self._magenta = None
        self._style_weights = None
        self._style_vec = None
        self._backend = self._backend_state = None
        attached = attach(self.info, threads, style=style, style_image=style_image, style_bank=style_bank,
                          alpha=alpha) if self.info.kind == "arbitrary" else None
        if attached is not None:  # student / adain: an ONNX backend runs every frame
            self._backend, self._backend_state = attached
        elif self.info.kind == "arbitrary" and style_bank is not None:
            from ..zoo.styles import resolve_style
            self._style_vec = resolve_style(style_bank, style)
        elif self.info.kind == "multi":  # a style entry (ember -> multi26:5) brings its style
            self.set_style(style if style is not None else self.info.style)
        elif self.info.kind == "arbitrary":
            if style_image is None and style is None:
                raise UserError(f"model {self.info.name!r} needs a style image (--style-image)")
            if style_image is not None:
                self.set_style_image(style_image)
            else:
                self._style_vec = np.asarray(style, np.float32).reshape(100)
        elif style is not None and style not in (0, "0"):
            raise UserError(f"model {self.info.name!r} has one fixed style; --style applies to multi-style models")
        elif style_image is not None:
            raise UserError(f"model {self.info.name!r} has a fixed style; use an arbitrary model "
                            "(--model magenta) with --style-image")
        if style_bank is not None and self.info.kind != "arbitrary":
            raise UserError(f"model {self.info.name!r} has a fixed style; --style-bank needs an arbitrary-style "
                            "model (--method student, or --model magenta)")

    # -- style selection ---------------------------------------------------------------------------
    def set_style(self, style) -> None:
        if self.info.kind != "multi":
            raise UserError(f"model {self.info.name!r} is not a multi-style model")
        n = int(self.info.card.get("styles", 26))
        w = parse_style(style, n)
        if self.info.style is not None and not np.array_equal(w, self.info.style_weights):
            raise UserError(f"model {self.info.name!r} is one style ({self.info.teacher}); for other styles and "
                            f"blends use --model {self.info.path.stem} --style ...")
        self._style_weights = w
        self._bound.clear()
        if self.specialised:  # a fixed graph per style (runtime.specialise): made or loaded on the next frame
            self._sess = None

    def set_style_image(self, style_image: ImageLike) -> None:
        if self.info.kind != "arbitrary":
            raise UserError(f"model {self.info.name!r} does not take a style image")
        if self._backend is not None:
            self._backend_state = self._backend.prepare(style_image)
            return
        self._style_vec = self.magenta.style_vector(load_image(style_image, "style image"))

    @property
    def magenta(self):
        if self._magenta is None:
            from ..zoo.magenta import MagentaTeacher
            self._magenta = MagentaTeacher(threads=self.threads)
        return self._magenta

    @property
    def specialised(self) -> bool:
        """A conditional real-time student: each style runs as its own fixed int8 graph."""
        from .specialise import specialisable
        return self.info.kind == "multi" and specialisable(self.info)

    @property
    def session(self):
        """The model's one ORT session, opened on first use: the uint8-in/out graph when the model allows it
        (the fast path), else the model as it is (frames converted in numpy; said once in a warning)."""
        if self._sess is None and self.info.kind != "arbitrary":
            path = self.info.path
            check_graph(path)  # the one model check, on the model's own graph
            if self.specialised:  # a conditional model: this style's fixed int8 graph (made once, cached)
                from .specialise import specialised
                path = specialised(path, self._style_weights)
            self._sess, self._u8, self._in_name, self._out_name = open_frames_session(path, self.threads)
            ins = self._sess.get_inputs()
            self._extra_names = [i.name for i in ins[1:]]
        return self._sess

    # -- the work ----------------------------------------------------------------------------------
    def _fit(self, img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        if self.max_size and max(h, w) > self.max_size:
            import cv2
            s = self.max_size / max(h, w)
            img = cv2.resize(img, (max(16, round(w * s)), max(16, round(h * s))), interpolation=cv2.INTER_AREA)
        return img

    def _extra(self) -> dict:
        if self.info.kind == "multi" and not self.specialised:
            return {self._extra_names[0]: self._style_weights}
        return {}

    def _run_model(self, frame: np.ndarray) -> np.ndarray:
        """Raw model output for one frame (uint8 HxWx3), using bound buffers; returns an internal buffer."""
        if self._backend is not None:
            return self._backend.transform(frame, self._backend_state)
        if self.info.kind == "arbitrary":
            vec = self._style_vec
            if self.strength < 1.0:
                own = self.magenta.style_vector(frame)
                vec = self.strength * vec + (1.0 - self.strength) * own
            out = self.magenta.transform(frame, vec)
            return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)
        sess, extra = self.session, self._extra()
        b = frames_for(self._bound, frame, lambda h, w: Frames(
            sess, h, w, self.info.multiple, self._in_name, self._out_name, extra, self._u8), extra)
        return b.run(frame, extra)

    def _run_tiled(self, img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        t, ov = self.tile, self.tile_overlap
        acc = np.zeros((h, w, 3), np.float32)
        wsum = np.zeros((h, w, 1), np.float32)
        for y0 in ops.tile_spans(h, t, ov):
            for x0 in ops.tile_spans(w, t, ov):
                y1, x1 = min(h, y0 + t), min(w, x0 + t)
                out = self._run_model(np.ascontiguousarray(img[y0:y1, x0:x1])).astype(np.float32)
                wy = ops.ramp(y1 - y0, y0, y1, h, ov)
                wx = ops.ramp(x1 - x0, x0, x1, w, ov)
                wt = (wy[:, None] * wx[None, :])[..., None]
                acc[y0:y1, x0:x1] += out * wt
                wsum[y0:y1, x0:x1] += wt
        self._bound.clear()  # tile buffers are one-off
        return np.clip(acc / wsum + 0.5, 0, 255).astype(np.uint8)

    def _finish(self, styled: np.ndarray, original: np.ndarray) -> np.ndarray:
        if self.preserve_color:
            styled = ops.preserve_color(styled, original)
        if self.info.kind != "arbitrary" or self._backend is not None:
            styled = ops.blend(styled, original, self.strength)
        return styled

    def process(self, frame: np.ndarray) -> np.ndarray:
        """Hot path for video and render loops: uint8 HxWx3 RGB in, uint8 out, same size.

        The returned array is an internal buffer reused on the next call of the same size: copy it to keep it.
        """
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise UserError(f"process() takes uint8 HxWx3 RGB frames, got {frame.dtype} {frame.shape}")
        with self._lock:
            styled = self._run_model(np.ascontiguousarray(frame))
            if self.preserve_color or self.strength < 1.0:
                return self._finish(styled, frame)
            return styled

    def stylize(self, image: ImageLike) -> np.ndarray:
        """Stylise one image (path, bytes, PIL or array); returns a new uint8 HxWx3 array."""
        img = self._fit(load_image(image))
        with self._lock:
            h, w = img.shape[:2]
            if max(h, w) > self.tile:
                styled = self._run_tiled(img)
            else:
                styled = self._run_model(img).copy()
                if len(self._bound) and (h, w) in self._bound and h * w > 4_000_000:
                    del self._bound[(h, w)]
            return self._finish(styled, img)

    __call__ = stylize
