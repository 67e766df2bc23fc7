"""Preallocated frame buffers bound to an ONNX Runtime session (IO binding): a render loop reallocates nothing.

One `Frames` per frame size: `run(frame, extra)` copies the frame (and any extra inputs, in place) into the bound
buffers, runs the session and returns the uint8 output buffer (reused next call: copy it to keep it).
"""
from __future__ import annotations

from typing import Callable, Dict, Optional, Sequence

import numpy as np

from . import ops

MAX_SIZES = 8  # frame sizes kept bound per session; more (e.g. a folder of odd sizes) starts over


class Frames:
    """Buffers for one frame size. u8: the session takes and returns uint8 HxWx3 (session.uint8_graph);
    otherwise float NCHW 0..1 named `in_name` -> `out_name`, converted here. `also` names further outputs
    (left to ORT to allocate)."""

    def __init__(self, sess, h: int, w: int, multiple: int, in_name: str, out_name: str,
                 extra: Optional[Dict[str, np.ndarray]] = None, u8: bool = False, also: Sequence[str] = ()):
        import onnxruntime as ort
        self.sess, self.u8_graph = sess, u8
        hp, wp = ops.padded_size(h, w, multiple)
        self.pad = (hp - h, wp - w)
        if u8:
            self.x = np.zeros((hp, wp, 3), np.uint8)
            self.y = np.zeros((hp, wp, 3), np.uint8)
            self.out = self.y if self.pad == (0, 0) else np.zeros((h, w, 3), np.uint8)
        else:
            self.x = np.zeros((1, 3, hp, wp), np.float32)
            self.y = np.zeros((1, 3, hp, wp), np.float32)
            self.out = np.zeros((h, w, 3), np.uint8)
        self.extra = {k: np.array(v, copy=True) for k, v in (extra or {}).items()}
        self.io = sess.io_binding()
        for name, arr in [(in_name, self.x), *self.extra.items()]:
            self.io.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(arr))
        self.io.bind_ortvalue_output(out_name, ort.OrtValue.ortvalue_from_numpy(self.y))
        for name in also:
            self.io.bind_output(name, "cpu")

    def fits(self, extra: Dict[str, np.ndarray]) -> bool:
        return all(k in self.extra and self.extra[k].shape == np.shape(v) for k, v in extra.items())

    def run(self, frame: np.ndarray, extra: Optional[Dict[str, np.ndarray]] = None) -> np.ndarray:
        for k, v in (extra or {}).items():
            np.copyto(self.extra[k], v)  # bound in place: a style change costs no rebinding
        h, w = self.out.shape[:2]
        if not self.u8_graph:
            ops.to_nchw(frame, self.x)
            self.sess.run_with_iobinding(self.io)
            return ops.to_uint8(self.y, h, w, self.out)
        if self.pad == (0, 0):
            np.copyto(self.x, frame)
        else:
            import cv2
            cv2.copyMakeBorder(frame, 0, self.pad[0], 0, self.pad[1], cv2.BORDER_REFLECT_101, dst=self.x)
        self.sess.run_with_iobinding(self.io)
        if self.out is not self.y:
            np.copyto(self.out, self.y[:h, :w])
        return self.out


def frames_for(cache: Dict[tuple, Frames], frame: np.ndarray, make: Callable[[int, int], Frames],
               extra: Optional[Dict[str, np.ndarray]] = None) -> Frames:
    """The cached `Frames` for this frame's size (made by `make(h, w)` when new or when the extras changed shape)."""
    h, w = frame.shape[:2]
    b = cache.get((h, w))
    if b is None or not b.fits(extra or {}):
        if len(cache) >= MAX_SIZES:
            cache.clear()
        b = cache[(h, w)] = make(h, w)
    return b
