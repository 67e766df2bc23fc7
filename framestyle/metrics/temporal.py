"""Temporal consistency: the warping error of Lai et al. (ECCV 2018) and a synthetic pan with exact flow.

For consecutive outputs O_t, O_{t+1} and flow computed on the INPUT frames,
    E = sum M * ||O_t - warp(O_{t+1})||^2 / sum M      (RGB in 0..1, squared error summed over channels)
averaged over pairs. M keeps pixels that pass the forward-backward check
    |w_f + w_b(x + w_f)|^2 <= 0.01 (|w_f|^2 + |w_b(x + w_f)|^2) + 0.5
and whose match x + w_f lies inside the frame. A pair whose INPUT frames themselves differ by more than
CUT_PAIR_ERROR after warping is a scene cut: it is also reported separately ("within shots" leaves it out),
since no stabiliser should carry content across a cut.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

Flow = np.ndarray  # HxWx2 float32, (dx, dy) in pixels
CUT_PAIR_ERROR = 0.02  # input warping error of a scene-cut pair (within-shot pairs of the shared clips: < 0.002)


def dis_flow(a: np.ndarray, b: np.ndarray) -> Flow:
    """Optical flow a -> b (for each pixel of a, where it is in b), DIS medium preset on grey frames."""
    import cv2
    ga = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY) if a.ndim == 3 else a
    gb = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY) if b.ndim == 3 else b
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(ga, gb, None)


def warp(img: np.ndarray, flow: Flow) -> np.ndarray:
    """Sample `img` at x + flow(x) (bilinear, border replicated); float32 result."""
    import cv2
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(np.asarray(img, np.float32), gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def consistency_mask(fwd: Flow, bwd: Flow) -> np.ndarray:
    """1 where the forward-backward check passes and the match stays inside the frame, else 0."""
    h, w = fwd.shape[:2]
    b_at = warp(bwd, fwd)
    s = fwd + b_at
    ok = (s * s).sum(2) <= 0.01 * ((fwd * fwd).sum(2) + (b_at * b_at).sum(2)) + 0.5
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = gx + fwd[..., 0], gy + fwd[..., 1]
    ok &= (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
    return ok.astype(np.float32)


def pair_error(o_t: np.ndarray, o_next: np.ndarray, fwd: Flow, mask: np.ndarray) -> float:
    a = np.asarray(o_t, np.float32) / 255.0
    b = warp(o_next, fwd) / 255.0
    d = ((a - b) ** 2).sum(2)
    n = float(mask.sum())
    return float((d * mask).sum() / n) if n > 0 else 0.0


def input_flows(frames: Sequence[np.ndarray]) -> List[Tuple[Flow, Flow]]:
    """(forward, backward) DIS flow for each consecutive pair of input frames."""
    return [(dis_flow(frames[i], frames[i + 1]), dis_flow(frames[i + 1], frames[i]))
            for i in range(len(frames) - 1)]


def pair_masks(flows: Sequence[Tuple[Flow, Flow]]) -> List[np.ndarray]:
    return [consistency_mask(f, b) for f, b in flows]


def pair_errors(outputs: Sequence[np.ndarray], flows: Sequence[Tuple[Flow, Flow]],
                masks: Optional[Sequence[np.ndarray]] = None) -> List[float]:
    """Warping error of each consecutive pair of uint8 `outputs` (masks: from pair_masks, to reuse them)."""
    if len(outputs) < 2 or len(flows) < len(outputs) - 1:
        raise ValueError("need at least two frames and one flow pair per consecutive pair")
    masks = masks or pair_masks(flows[:len(outputs) - 1])
    return [pair_error(outputs[i], outputs[i + 1], flows[i][0], masks[i]) for i in range(len(outputs) - 1)]


def scene_cuts(inputs: Sequence[np.ndarray], flows: Sequence[Tuple[Flow, Flow]], masks=None) -> List[int]:
    """Indices i of the pairs (i, i+1) whose INPUT frames do not match after warping (CUT_PAIR_ERROR)."""
    return [i for i, e in enumerate(pair_errors(inputs, flows, masks)) if e > CUT_PAIR_ERROR]


def warping_error(outputs: Sequence[np.ndarray], flows: Optional[Sequence[Tuple[Flow, Flow]]] = None,
                  inputs: Optional[Sequence[np.ndarray]] = None, masks=None, skip: Sequence[int] = ()) -> float:
    """Mean warping error over consecutive pairs of uint8 `outputs` (pairs listed in `skip` left out).

    Give either the (forward, backward) flows of the INPUT frames (exact ones for synthetic clips) or the
    input frames themselves (flows are then estimated with DIS)."""
    if flows is None:
        if inputs is None:
            raise ValueError("warping_error needs flows or input frames")
        flows = input_flows(inputs)
    skip = set(skip)
    errs = [e for i, e in enumerate(pair_errors(outputs, flows, masks)) if i not in skip]
    return float(np.mean(errs)) if errs else 0.0


def synthetic_pan(photo: np.ndarray, frames: int = 12, size: Tuple[int, int] = (320, 240),
                  pan: Tuple[float, float] = (2.3, 1.1), zoom: float = 1.004
                  ) -> Tuple[List[np.ndarray], List[Tuple[Flow, Flow]]]:
    """A pan (pixels per frame) and zoom (scale per frame) over `photo`, with exact flows.

    Frame t shows photo point p = s_t * x + b_t at frame pixel x, so the flows between t and t+1 are
    affine and known exactly. Returns (frames uint8 list, [(forward, backward)] per consecutive pair).
    """
    import cv2
    w, h = size
    ph, pw = photo.shape[:2]
    travel_x, travel_y = abs(pan[0]) * (frames - 1), abs(pan[1]) * (frames - 1)
    k = max((w + travel_x + 4) / pw, (h + travel_y + 4) / ph)
    if k > 1:  # photo too small for the path at scale 1: enlarge it once
        photo = cv2.resize(photo, (int(np.ceil(pw * k)), int(np.ceil(ph * k))), interpolation=cv2.INTER_CUBIC)
        ph, pw = photo.shape[:2]
    # photo pixels per frame pixel at t=0 (<= 1), so the whole path fits inside the photo
    s0 = min(1.0, (pw - 4) / (w + travel_x), (ph - 4) / (h + travel_y))
    scales = [s0 * zoom ** -t for t in range(frames)]
    cx0 = 2 + s0 * (w / 2 + (travel_x if pan[0] < 0 else 0))
    cy0 = 2 + s0 * (h / 2 + (travel_y if pan[1] < 0 else 0))
    # b_t = window centre in the photo minus s_t * frame centre
    offsets = [(cx0 + s0 * pan[0] * t - scales[t] * w / 2, cy0 + s0 * pan[1] * t - scales[t] * h / 2)
               for t in range(frames)]
    out = []
    for s, (bx, by) in zip(scales, offsets):
        m = np.array([[s, 0, bx], [0, s, by]], np.float64)
        out.append(cv2.warpAffine(photo, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                  borderMode=cv2.BORDER_REFLECT))
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    flows = []
    for t in range(frames - 1):
        (s1, (bx1, by1)), (s2, (bx2, by2)) = (scales[t], offsets[t]), (scales[t + 1], offsets[t + 1])
        fx = (s1 * gx + bx1 - bx2) / s2 - gx
        fy = (s1 * gy + by1 - by2) / s2 - gy
        bx = (s2 * gx + bx2 - bx1) / s1 - gx
        by = (s2 * gy + by2 - by1) / s1 - gy
        flows.append((np.stack([fx, fy], 2).astype(np.float32), np.stack([bx, by], 2).astype(np.float32)))
    return out, flows


def synthetic_still(photo: np.ndarray, frames: int = 12, size: Tuple[int, int] = (320, 240), noise: float = 3.0,
                    seed: int = 0) -> Tuple[List[np.ndarray], List[Tuple[Flow, Flow]]]:
    """A tripod shot of `photo` (centre crop fitted to `size`) with fresh sensor-like noise every frame:
    Gaussian, std `noise` (0..255 scale) in the darks growing to 2x in the brights (shot noise), plus a
    little luminance-correlated noise. The exact flow is zero. Returns (frames, [(forward, backward)])."""
    import cv2
    w, h = size
    ph, pw = photo.shape[:2]
    k = max(w / pw, h / ph)
    crop = cv2.resize(photo, (max(w, round(pw * k)), max(h, round(ph * k))), interpolation=cv2.INTER_AREA)
    y0, x0 = (crop.shape[0] - h) // 2, (crop.shape[1] - w) // 2
    base = crop[y0:y0 + h, x0:x0 + w].astype(np.float32)
    std = noise * (1.0 + base / 255.0)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(frames):
        n = rng.standard_normal(base.shape).astype(np.float32) + 0.5 * rng.standard_normal(base.shape[:2] + (1,))
        out.append(np.clip(base + std * n + 0.5, 0, 255).astype(np.uint8))
    zero = np.zeros((h, w, 2), np.float32)
    return out, [(zero, zero)] * (frames - 1)


def _read_frames(video, frames: int, max_size: Optional[int]) -> List[np.ndarray]:
    from ..runtime.live.codec import even_size, fit_frame, open_video
    c = open_video(video)
    out = []
    try:
        for fr in c.decode(video=0):
            arr = fr.to_ndarray(format="rgb24")
            out.append(fit_frame(arr, even_size(arr.shape[1], arr.shape[0], max_size)))
            if len(out) >= frames:
                break
    finally:
        c.close()
    if len(out) < 2:
        from ..errors import UserError
        raise UserError(f"{video}: need at least 2 frames for a temporal measure")
    return out


def exp_average(frames: Sequence[np.ndarray], smooth: float) -> List[np.ndarray]:
    """Exponential averaging without motion compensation (the peer's --smooth): acc = s*acc + (1-s)*frame."""
    out, acc = [], None
    for f in frames:
        acc = f.astype(np.float32) if acc is None else smooth * acc + (1 - smooth) * f
        out.append(np.clip(acc + 0.5, 0, 255).astype(np.uint8))
    return out


def _teacher(st, teacher):
    """teacher: None = the model card's teacher, "none" = no teacher, else a spec (multistyle26:7, magenta:IMG)."""
    spec = (getattr(st, "info", None) and st.info.teacher) if teacher is None else teacher
    if not spec or spec == "none" or spec == "magenta":  # arbitrary-style students have no single teacher
        return None, None
    from ..zoo.teachers import Teacher, card_spec
    spec = card_spec(str(spec))
    return spec, Teacher(spec)


def _matched_average(fbf, target: float, flows, masks, cuts, steps: int = 6):
    """The smallest averaging weight whose within-shot warping error is <= `target` (a coarse scan, then
    bisection: the error is not monotonic, since heavy averaging freezes a moving scene); None if no
    weight up to 0.95 gets that steady."""
    def err(s):
        return warping_error(exp_average(fbf, s), flows, masks=masks, skip=cuts)
    grid = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
    hi = next((s for s in grid if err(s) <= target), None)
    if hi is None or hi == 0.0:
        return hi
    lo = grid[grid.index(hi) - 1]
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if err(mid) > target else (lo, mid)
    return hi


def load_clip(video="synthetic", frames: int = 30, max_size: Optional[int] = 640, photo=None):
    """(frames, flows between consecutive input frames) of a clip, or of a synthetic one with exact flow:
    "synthetic" (pan/zoom over a photo) or "still" (a noisy tripod shot of it)."""
    if video in ("synthetic", "still"):
        from ..imageio import load_image
        from ..train.data import SHARED
        src = photo if photo is not None else SHARED / "images" / "building.jpg"
        make = synthetic_pan if video == "synthetic" else synthetic_still
        return make(load_image(src), frames, size=(640, 480) if (max_size or 640) >= 640 else (320, 240))
    inputs = _read_frames(video, frames, max_size)
    return inputs, input_flows(inputs)


def evaluate_temporal(video="synthetic", model=None, frames: int = 30, style=None, max_size: Optional[int] = 640,
                      strength: float = 0.6, smooth: float = 0.5, photo=None, stylizer=None, teacher=None,
                      clip=None, teacher_out=None) -> dict:
    """Warping error (lower = steadier) and fidelity of: the input, frame-by-frame stylisation, our
    stabiliser, and exponential averaging (the peer's --smooth). PSNR is measured against the frame-by-frame
    output and against the model's teacher run on the same frames (`teacher`: None = the card's, "none" = skip).
    ghosting_db = PSNR(frame by frame vs teacher) - PSNR(stabilised vs teacher); averaged_at_equal_error is
    the averaging weight that is as steady (within shots) as the stabiliser, and its PSNR.
    `clip` = load_clip(...) and `teacher_out` (uint8 teacher frames) skip recomputing them when comparing models."""
    from ..metrics.fidelity import psnr
    from ..runtime import Stylizer
    from ..runtime.live.stabilizer import Stabilizer
    inputs, flows = clip if clip is not None else load_clip(video, frames, max_size, photo)
    masks = pair_masks(flows)
    cuts = scene_cuts(inputs, flows, masks)
    st = stylizer or Stylizer(model, style=style)
    if teacher_out is None:
        spec, t = _teacher(st, teacher)
    else:  # given by the caller: no need to load the teacher
        spec, t = teacher or getattr(getattr(st, "info", None), "teacher", None), None
    fbf = [st.process(f).copy() for f in inputs]
    stab = Stabilizer(strength)
    stabilised = [stab.step(f, s) for f, s in zip(inputs, fbf)]
    if teacher_out is None and t is not None:
        teacher_out = [np.clip(t(f) * 255 + 0.5, 0, 255).astype(np.uint8) for f in inputs]

    def fidelity(seq, row):
        row["psnr_vs_frame_by_frame"] = round(float(np.mean([psnr(a, b) for a, b in zip(seq, fbf)])), 2)
        if teacher_out is not None:
            row["psnr_vs_teacher"] = round(float(np.mean([psnr(a, b) for a, b in zip(seq, teacher_out)])), 2)
        return row

    rows = {}
    for name, seq in (("input", inputs), ("frame_by_frame", fbf), ("stabilised", stabilised),
                      (f"averaged_{smooth:g}", exp_average(fbf, smooth))):
        errs = pair_errors(seq, flows, masks)
        within = [e for i, e in enumerate(errs) if i not in cuts]
        row = {"warping_error": round(float(np.mean(errs)), 6),
               "warping_error_within_shots": round(float(np.mean(within)) if within else 0.0, 6)}
        rows[name] = fidelity(seq, row) if name != "input" else row
    base, base_w = (rows["frame_by_frame"][k] for k in ("warping_error", "warping_error_within_shots"))
    for row in rows.values():
        row["vs_frame_by_frame"] = round(row["warping_error"] / base, 3) if base > 0 else None
        row["vs_frame_by_frame_within_shots"] = (round(row["warping_error_within_shots"] / base_w, 3)
                                                 if base_w > 0 else None)
    ghosting = None
    if teacher_out is not None:
        ghosting = round(rows["frame_by_frame"]["psnr_vs_teacher"] - rows["stabilised"]["psnr_vs_teacher"], 2)
        rows["stabilised"]["ghosting_db"] = ghosting
    s_eq = _matched_average(fbf, rows["stabilised"]["warping_error_within_shots"], flows, masks, cuts)
    equal = None
    if s_eq is not None:
        seq = exp_average(fbf, s_eq)
        equal = fidelity(seq, {"smooth": round(s_eq, 3), "warping_error_within_shots":
                               round(warping_error(seq, flows, masks=masks, skip=cuts), 6)})
    return {"video": str(video), "model": getattr(getattr(st, "info", None), "name", None),
            "frames": len(inputs), "size": [inputs[0].shape[1], inputs[0].shape[0]],
            "stabiliser_strength": strength, "teacher": spec, "cut_pairs": cuts, "ghosting_db": ghosting,
            "averaged_at_equal_error": equal, "results": rows}
