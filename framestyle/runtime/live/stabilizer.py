"""Temporal stabiliser for stylised video: motion-compensated blending that stops flicker.

Optical flow (OpenCV DIS, fast preset refined down to half of the flow resolution) runs on the INPUT
frames at reduced resolution (flow_scale, but at least MIN_FLOW_SIDE pixels on the longer side). The
previous stabilised output is warped onto the current frame and blended with the new stylised frame where
the flow is trustworthy (forward-backward consistent and photometrically consistent on the inputs);
elsewhere (occlusions, new content) the new frame is used as is. A scene cut (large mean input change, or
too little of the frame tracked) resets the history instead of ghosting the old scene into the new one.

    stab = Stabilizer(strength=0.6)
    for frame in frames:
        out = stab.step(frame, stylizer.process(frame))
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ...errors import UserError

MIN_FLOW_SIDE = 160
FLOW_FINEST_SCALE = 1  # DIS pyramid level where refinement stops (the preset's 2 = a 4x coarser flow)


class Stabilizer:
    def __init__(self, strength: float = 0.6, flow_scale: float = 0.25, photo_tol: float = 0.08,
                 cut_threshold: float = 0.25, min_coverage: float = 0.5):
        """strength: weight of the warped history where the flow is good (0 = off, 0.9 = very smooth).
        flow_scale: resolution of the flow relative to the frame. photo_tol: allowed input difference (0..1)
        after warping. cut_threshold: mean input difference (0..1) that counts as a scene cut.
        min_coverage: a frame with less than this fraction tracked also counts as a cut."""
        if not 0.0 <= strength < 1.0:
            raise UserError(f"stabiliser strength must be in [0, 1), got {strength}")
        if not 0.05 <= flow_scale <= 1.0:
            raise UserError(f"flow_scale must be in [0.05, 1], got {flow_scale}")
        import cv2
        self.cv2 = cv2
        self.strength = float(strength)
        self.flow_scale = float(flow_scale)
        self.photo_tol = float(photo_tol) * 255.0
        self.cut_threshold = float(cut_threshold) * 255.0
        self.min_coverage = float(min_coverage)
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        self.dis.setFinestScale(FLOW_FINEST_SCALE)
        self.enabled = True
        self._grids = {}
        self.reset()

    def reset(self) -> None:
        self._prev_small: Optional[np.ndarray] = None
        self._prev_out: Optional[np.ndarray] = None
        self.resets = 0
        self.last_coverage = 0.0

    def _small(self, frame: np.ndarray) -> np.ndarray:
        cv2 = self.cv2
        h, w = frame.shape[:2]
        scale = min(1.0, max(self.flow_scale, MIN_FLOW_SIDE / max(h, w)))
        sw, sh = max(16, int(round(w * scale))), max(16, int(round(h * scale)))
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        return cv2.resize(gray, (sw, sh), interpolation=cv2.INTER_AREA)

    def _grid(self, h: int, w: int) -> np.ndarray:
        """HxWx2 pixel coordinates (cached per size)."""
        g = self._grids.get((h, w))
        if g is None:
            g = self._grids[(h, w)] = np.dstack(np.meshgrid(np.arange(w, dtype=np.float32),
                                                            np.arange(h, dtype=np.float32)))
        return g

    def _restart(self, stylised: np.ndarray) -> np.ndarray:
        self._prev_out = np.array(stylised, copy=True)
        self.resets += 1
        self.last_coverage = 0.0
        return self._prev_out.copy()

    def step(self, input_frame: np.ndarray, stylised: np.ndarray) -> np.ndarray:
        """Return the stabilised frame (a new uint8 array, same size as `stylised`)."""
        cv2 = self.cv2
        if not self.enabled or self.strength <= 0:
            self._prev_small = None
            return np.array(stylised, copy=True)
        small = self._small(input_frame)
        prev_small, prev_out = self._prev_small, self._prev_out
        self._prev_small = small
        if prev_small is None or prev_small.shape != small.shape or prev_out is None \
                or prev_out.shape != stylised.shape \
                or float(cv2.absdiff(small, prev_small).mean()) > self.cut_threshold:
            return self._restart(stylised)
        # flow_b: current -> previous (where each current pixel was); flow_f: previous -> current
        flow_b = self.dis.calc(small, prev_small, None)
        flow_f = self.dis.calc(prev_small, small, None)
        sh, sw = small.shape
        h, w = stylised.shape[:2]
        where = self._grid(sh, sw) + flow_b
        f_at = cv2.remap(flow_f, where, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        s = flow_b + f_at
        fb_ok = (s * s).sum(2) <= 0.01 * ((flow_b * flow_b).sum(2) + (f_at * f_at).sum(2)) + 0.5 * sw / w
        prev_warp = cv2.remap(prev_small, where, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        photo_ok = cv2.absdiff(prev_warp, small) <= self.photo_tol
        mx, my = where[..., 0], where[..., 1]
        inside = (mx >= 0) & (mx <= sw - 1) & (my >= 0) & (my <= sh - 1)
        mask = (fb_ok & photo_ok & inside).astype(np.float32)
        coverage = float(mask.mean())
        if coverage < self.min_coverage:  # most of the frame is new: a cut (or a whip pan)
            return self._restart(stylised)
        self.last_coverage = coverage
        # full-resolution warp of the previous output, blended with a per-pixel weight
        flow_full = cv2.resize(flow_b, (w, h), interpolation=cv2.INTER_LINEAR)
        flow_full *= np.float32(w / sw)
        flow_full += self._grid(h, w)
        warped = cv2.remap(prev_out, flow_full, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        alpha = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)
        alpha *= np.float32(self.strength)
        out = cv2.blendLinear(warped, np.ascontiguousarray(stylised, np.uint8), alpha, 1.0 - alpha)
        self._prev_out = out
        return out.copy()
