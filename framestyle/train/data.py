"""Content images for training: folders, image files, video files, and a default offline set."""
from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Iterable, List, Tuple

import numpy as np

from ..errors import UserError
from ..imageio import IMAGE_EXTS, load_image

VIDEO_EXTS = {".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v"}
SHARED = Path(os.environ.get("FRAMESTYLE_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
# held out for fidelity numbers: never used for training (aero3/leuvenB are near-duplicates of them)
HELD_OUT = {"aero1.jpg", "building.jpg", "home.jpg", "leuvenA.jpg", "aero3.jpg", "leuvenB.jpg", "starry_night.jpg"}
SKIMAGE_PHOTOS = ["astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry",
                  "retina", "colorwheel", "cat"]


def find_style_image(name: str) -> Path:
    """A style image named in a card (e.g. starry_night.jpg): as given, or in the shared / OpenCV sample data."""
    for cand in (Path(name), SHARED / "images" / name, OPENCV_DATA / name):
        if cand.exists():
            return cand
    raise UserError(f"style image {name} not found (looked in {SHARED / 'images'} and {OPENCV_DATA})")


def held_out_images() -> List[Path]:
    return [SHARED / "images" / n for n in ("aero1.jpg", "building.jpg", "home.jpg", "leuvenA.jpg")
            if (SHARED / "images" / n).exists()]


def resize_long(img: np.ndarray, size: int) -> np.ndarray:
    import cv2
    h, w = img.shape[:2]
    s = size / max(h, w)
    if abs(s - 1) < 1e-3:
        return img
    return cv2.resize(img, (max(16, round(w * s)), max(16, round(h * s))),
                      interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)


def video_frames(path: Path, every: int = 5, limit: int = 400) -> Iterable[np.ndarray]:
    import av
    try:
        with av.open(str(path)) as c:
            for i, fr in enumerate(c.decode(video=0)):
                if i % every == 0:
                    yield fr.to_ndarray(format="rgb24")
                    limit -= 1
                    if limit <= 0:
                        return
    except (av.error.FFmpegError, OSError) as exc:
        raise UserError(f"{path}: cannot read video ({exc})") from None


def _expand(src: str) -> List[Path]:
    p = Path(src)
    if p.is_dir():
        return sorted(q for q in p.rglob("*") if q.suffix.lower() in IMAGE_EXTS | VIDEO_EXTS)
    if p.exists():
        return [p]
    hits = sorted(Path(h) for h in glob.glob(src, recursive=True))
    if not hits:
        raise UserError(f"{src}: no such file, folder or glob")
    return hits


def default_sources() -> List[str]:
    """The offline default: OpenCV sample photos, skimage photos and the shared clips, minus held-out images."""
    out = []
    if OPENCV_DATA.exists():
        out += [str(p) for p in sorted(OPENCV_DATA.glob("*.jpg")) + sorted(OPENCV_DATA.glob("*.png"))
                if p.name not in HELD_OUT]
    out += [f"skimage:{n}" for n in SKIMAGE_PHOTOS]
    clips = SHARED / "clips"
    if clips.exists():
        out += [str(p) for p in sorted(clips.iterdir()) if p.suffix.lower() in VIDEO_EXTS]
    return out


def load_content(sources: List[str], max_side: int = 512, every: int = 5) -> Tuple[List[np.ndarray], List[str]]:
    """Load content images (RGB uint8, longer side <= max_side). Grey/tiny images are skipped."""
    imgs, names = [], []
    for src in sources:
        if src.startswith("skimage:"):
            import skimage.data
            arr = getattr(skimage.data, src.split(":", 1)[1])()
            items = [(src, arr[..., :3])]
        else:
            items = []
            for p in _expand(src):
                if p.suffix.lower() in VIDEO_EXTS:
                    items += [(f"{p.name}#{i}", f) for i, f in enumerate(video_frames(p, every))]
                else:
                    try:
                        items.append((p.name, load_image(p)))
                    except UserError:
                        continue
        for name, arr in items:
            if arr.ndim != 3 or min(arr.shape[:2]) < 64:
                continue
            a = arr.astype(np.int16)
            if np.abs(a[..., 0] - a[..., 1]).mean() < 1 and np.abs(a[..., 1] - a[..., 2]).mean() < 1:
                continue  # greyscale: teaches nothing about colour
            imgs.append(resize_long(np.ascontiguousarray(arr), max_side) if max(arr.shape[:2]) > max_side else arr)
            names.append(name)
    if not imgs:
        raise UserError("no usable content images found in: " + ", ".join(sources))
    return imgs, names
