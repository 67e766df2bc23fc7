"""Temporal stabiliser for stylised video: motion-compensated blending that stops flicker.

Optical flow (OpenCV DIS, fast preset refined down to half of the flow resolution) runs on the INPUT frames at
reduced resolution (flow_scale, kept between MIN_FLOW_SIDE and MAX_FLOW_SIDE pixels on the longer side). Where
the scene moves, the previous stabilised output is warped onto the current frame; where it is still (flow
under STILL_PX[0] full-resolution pixels, or under STILL_JITTER where no motion matches the inputs as well as
the flow does: the sub-pixel jitter DIS reports on sensor noise) it is blended in place, never resampled, so
static texture does not smear frame after frame. The history is blended with the new stylised frame where the
flow is trustworthy (forward-backward consistent and photometrically consistent on the inputs); elsewhere
(occlusions, new content) the new frame is used as is. A scene cut (large mean input change, or too little of
the frame tracked) resets the history instead of ghosting the old scene into the new one.

    stab = Stabilizer(strength=0.6)
    for frame in frames:
        out = stab.step(frame, stylizer.process(frame))

`step` = `motion` (inputs only: flow and blend weights, small images) + `blend` (the full-resolution work),
so a pipeline can compute the motion of frame t while the model is still stylising it.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ...errors import UserError

MIN_FLOW_SIDE, MAX_FLOW_SIDE = 160, 256  # longer side of the flow images (flow_scale in between)
FLOW_FINEST_SCALE = 1  # DIS pyramid level where refinement stops (the preset's 2 = a 4x coarser flow)
STILL_PX = (0.3, 0.8)  # flow (full-res px) below the first is static (no warp); ramps to a full warp at the second
STILL_JITTER = 1.0  # flow (full-res px) under which a pixel is still if no motion explains it as well (5x5 mean)
TILE = 8  # the blend resamples / weighs per pixel only in rectangles of TILE x TILE flow pixels that need it
WHOLE = 0.75  # ... unless those rectangles cover more than this fraction of the frame: then one call on all of it


class Motion:
    """What `Stabilizer.motion` found for one frame: restart, or (at flow resolution) the flow, the blend
    weight, and uint8 masks of the moving pixels and of the untracked ones (weight 0)."""

    __slots__ = ("restart", "flow", "weight", "moving", "move", "untracked")

    def __init__(self, restart: bool, flow=None, weight=None, moving: int = 0, move=None, untracked=None):
        self.restart, self.flow, self.weight, self.moving = restart, flow, weight, moving
        self.move, self.untracked = move, untracked


class Stabilizer:
    def __init__(self, strength: float = 0.6, flow_scale: float = 0.25, photo_tol: float = 0.08,
                 cut_threshold: float = 0.25, min_coverage: float = 0.5):
        """strength: weight of the history where the flow is good (0 = off, 0.9 = very smooth).
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
        self.last_still = 0.0  # fraction of the last frame blended in place (no warp)

    def _small(self, frame: np.ndarray) -> np.ndarray:
        cv2 = self.cv2
        h, w = frame.shape[:2]
        scale = min(1.0, max(self.flow_scale, MIN_FLOW_SIDE / max(h, w)), MAX_FLOW_SIDE / max(h, w))
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

    def _where(self, flow: np.ndarray, h: int, w: int) -> np.ndarray:
        """HxWx2 full-resolution sampling map: pixel + the bilinear upscale of the small `flow` (in full-res px).
        When the frame is a whole multiple of the flow size, the small map (pixel centres + flow, padded by one
        with the centres extrapolated) is upscaled directly: no full-resolution pass to add the grid."""
        cv2 = self.cv2
        sh, sw = flow.shape[:2]
        kx, ky = w / sw, h / sh
        flow = flow * np.float32([kx, ky])
        if not (kx.is_integer() and ky.is_integer()):
            return cv2.add(cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR), self._grid(h, w))
        kx, ky = int(kx), int(ky)
        g = self._grids.get((sh, sw, h, w))
        if g is None:
            xs = (np.arange(-1, sw + 1, dtype=np.float32) + 0.5) * kx - 0.5
            ys = (np.arange(-1, sh + 1, dtype=np.float32) + 0.5) * ky - 0.5
            g = self._grids[(sh, sw, h, w)] = np.dstack(np.meshgrid(xs, ys))
        small = cv2.add(cv2.copyMakeBorder(flow, 1, 1, 1, 1, cv2.BORDER_REPLICATE), g)
        big = cv2.resize(small, (w + 2 * kx, h + 2 * ky), interpolation=cv2.INTER_LINEAR)
        return big[ky:ky + h, kx:kx + w]

    def motion(self, input_frame: np.ndarray) -> Optional[Motion]:
        """Flow and blend weight for this input frame against the previous one (inputs only; call in frame
        order). None when the stabiliser is off."""
        cv2 = self.cv2
        if not self.enabled or self.strength <= 0:
            self._prev_small = None
            return None
        small = self._small(input_frame)
        prev_small, self._prev_small = self._prev_small, small
        if prev_small is None or prev_small.shape != small.shape \
                or float(cv2.absdiff(small, prev_small).mean()) > self.cut_threshold:
            return Motion(True)
        # flow_b: current -> previous (where each current pixel was); flow_f: previous -> current
        flow_b = self.dis.calc(small, prev_small, None)
        flow_f = self.dis.calc(prev_small, small, None)
        sh, sw = small.shape
        w = input_frame.shape[1]
        where = self._grid(sh, sw) + flow_b
        f_at = cv2.remap(flow_f, where, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        bx, by = flow_b[..., 0], flow_b[..., 1]
        ax, ay = f_at[..., 0], f_at[..., 1]
        nb = bx * bx + by * by
        fb_ok = (bx + ax) ** 2 + (by + ay) ** 2 <= 0.01 * (nb + ax * ax + ay * ay) + 0.5 * sw / w
        prev_warp = cv2.remap(prev_small, where, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        d_warp = cv2.absdiff(prev_warp, small)
        d_still = cv2.absdiff(prev_small, small)
        mx, my = where[..., 0], where[..., 1]
        ok = fb_ok & (d_warp <= self.photo_tol) & (mx >= 0) & (mx <= sw - 1) & (my >= 0) & (my <= sh - 1)
        # static: the flow is tiny, or no motion explains the neighbourhood as well as the flow does
        # (sensor noise and compression make DIS report sub-pixel jitter on a tripod shot)
        px = np.sqrt(nb) * np.float32(w / sw)
        keep = np.clip((px - STILL_PX[0]) * np.float32(1 / (STILL_PX[1] - STILL_PX[0])), 0, 1)
        box = (5, 5)
        keep[(px < STILL_JITTER) & (cv2.blur(d_still, box) <= cv2.blur(d_warp, box))] = 0
        still = keep == 0
        ok[still] = fb_ok[still] & (d_still[still] <= self.photo_tol)  # trusted if it did not change
        mask = ok.astype(np.float32)
        coverage = float(cv2.mean(mask)[0])
        if coverage < self.min_coverage:  # most of the frame is new: a cut (or a whip pan)
            return Motion(True)
        self.last_coverage = coverage
        move = (~still).view(np.uint8)
        moving = int(cv2.countNonZero(move))
        self.last_still = 1.0 - moving / keep.size
        if moving:  # still pixels keep the history where it is: flow exactly 0, no resampling
            flow_b *= keep[..., None]
        return Motion(False, flow_b, mask * np.float32(self.strength), moving, move, (~ok).view(np.uint8))

    def blend(self, stylised: np.ndarray, m: Optional[Motion]) -> np.ndarray:
        """The stabilised frame for `stylised` given this frame's `motion` (a new uint8 array).

        uint8 throughout: one `addWeighted` pass over the frame; the previous output is resampled only in the
        rectangles where the upscaled flow is not zero (still pixels keep their exact values), and the
        per-pixel weight (blendLinear) is applied only where it is not the plain strength (near untracked
        pixels)."""
        cv2 = self.cv2
        if m is None:
            return np.array(stylised, copy=True)
        prev_out = self._prev_out
        if m.restart or prev_out is None or prev_out.shape != stylised.shape:
            self._prev_out = np.array(stylised, copy=True)
            self.resets += 1
            self.last_coverage = self.last_still = 0.0
            return self._prev_out.copy()
        cur = np.ascontiguousarray(stylised, np.uint8)
        h, w = cur.shape[:2]
        warped, whole = prev_out, WHOLE * h * w

        def resample(where):  # the previous output sampled at `where` (bilinear, fixed-point maps)
            m1, m2 = cv2.convertMaps(where, None, cv2.CV_16SC2)
            return cv2.remap(prev_out, m1, m2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        moving = _rects(m.move, h, w) if m.moving else []
        if moving:
            where = self._where(m.flow, h, w)
            if _area(moving) > whole:  # most of the frame moves: one call
                warped = resample(where)
            else:
                warped = prev_out.copy()
                for y0, y1, x0, x1 in moving:
                    warped[y0:y1, x0:x1] = resample(where[y0:y1, x0:x1])
        mixed = _rects(m.untracked, h, w)
        alpha = cv2.resize(m.weight, (w, h), interpolation=cv2.INTER_LINEAR) if mixed else None
        if _area(mixed) > whole:  # untracked pixels all over: one per-pixel blend
            out = cv2.blendLinear(warped, cur, alpha, 1.0 - alpha)
        else:
            out = cv2.addWeighted(warped, self.strength, cur, 1.0 - self.strength, 0.0)
            for y0, y1, x0, x1 in mixed:
                a = alpha[y0:y1, x0:x1]
                out[y0:y1, x0:x1] = cv2.blendLinear(warped[y0:y1, x0:x1], cur[y0:y1, x0:x1], a, 1.0 - a)
        self._prev_out = out
        return out.copy()

    def step(self, input_frame: np.ndarray, stylised: np.ndarray) -> np.ndarray:
        """Return the stabilised frame (a new uint8 array, same size as `stylised`)."""
        return self.blend(stylised, self.motion(input_frame))


def _rects(mask: np.ndarray, h: int, w: int, tile: int = TILE) -> list:
    """Full-resolution (y0, y1, x0, x1) rectangles covering every pixel whose bilinear upscale (to h x w) of
    the small uint8 `mask` reads a nonzero pixel: tile rows of `tile` small pixels, runs of marked tiles
    merged, a 1-pixel margin. Empty when the mask is all zero."""
    import cv2
    sh, sw = mask.shape
    if not cv2.countNonZero(mask):
        return []
    grown = cv2.dilate(mask, np.ones((3, 3), np.uint8))  # a pixel's bilinear upscale reads its 3x3 neighbours
    ny, nx = -(-sh // tile), -(-sw // tile)
    pad = np.zeros((ny * tile, nx * tile), np.uint8)
    pad[:sh, :sw] = grown
    tiles = pad.reshape(ny, tile, nx, tile).max(axis=(1, 3)) > 0
    ky, kx = h / sh, w / sw
    rects = []
    for i in range(ny):
        row = np.concatenate(([False], tiles[i], [False]))
        edges = np.flatnonzero(row[1:] != row[:-1])
        y0, y1 = max(0, int(i * tile * ky) - 1), min(h, int(np.ceil(min(sh, (i + 1) * tile) * ky)) + 1)
        for c0, c1 in zip(edges[::2], edges[1::2]):
            x0, x1 = max(0, int(c0 * tile * kx) - 1), min(w, int(np.ceil(min(sw, c1 * tile) * kx)) + 1)
            last = rects[-1] if rects else None
            if last and last[2:] == (x0, x1) and last[1] >= y0:  # same columns as the tile row above: extend
                rects[-1] = (last[0], y1, x0, x1)
            else:
                rects.append((y0, y1, x0, x1))
    return rects


def _area(rects: list) -> int:
    return sum((y1 - y0) * (x1 - x0) for y0, y1, x0, x1 in rects)
