"""The arbitrary-style student's style set (offline, built once and cached): crops + colour jitter of the OpenCV
sample images, colourised skimage textures and multistyle26 outputs ("paintings") of a few photos. Held out
entirely: starry_night.jpg, graf1.png/graf3.png and multistyle26 styles HELD_MS26.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import numpy as np

from ..errors import UserError
from ..imageio import atomic_file
from .data import OPENCV_DATA, SHARED, resize_long

HELD_MS26 = (5, 17)  # multistyle26 styles never used for training styles
HELD_FILES = {"starry_night.jpg", "graf1.png", "graf3.png"}
MS26_PHOTOS = ("fruits.jpg", "baboon.jpg", "HappyFish.jpg")
STYLE_SIDE = 256
SET_VERSION = 1


# -- style images ---------------------------------------------------------------------------

def _square(img: np.ndarray, rng, side: int = STYLE_SIDE, min_frac: float = 0.35) -> np.ndarray:
    import cv2
    h, w = img.shape[:2]
    c = int(min(h, w) * rng.uniform(min_frac, 1.0))
    top, left = rng.integers(0, h - c + 1), rng.integers(0, w - c + 1)
    return cv2.resize(np.ascontiguousarray(img[top:top + c, left:left + c]), (side, side), interpolation=cv2.INTER_AREA)


def _jitter(img: np.ndarray, rng) -> np.ndarray:
    """Colour augmentation: hue rotation, saturation, gamma, sometimes a channel swap."""
    import cv2
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(0, 180)) % 180
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.6, 1.8) + rng.uniform(0, 40), 0, 255)
    out = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32) / 255
    out = out ** rng.uniform(0.6, 1.5)
    if rng.random() < 0.3:
        out = out[..., rng.permutation(3)]
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)


def _colourise(grey: np.ndarray, rng) -> np.ndarray:
    """Map a grey texture through a random 3-colour gradient."""
    g = grey.astype(np.float32)[..., None] / 255
    cols = rng.uniform(0, 1, (3, 3)).astype(np.float32)
    lo, mid, hi = cols
    out = np.where(g < 0.5, lo + (mid - lo) * (g * 2), mid + (hi - mid) * (g * 2 - 1))
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)


def _is_grey(a: np.ndarray) -> bool:
    a = a.astype(np.int16)
    return np.abs(a[..., 0] - a[..., 1]).mean() < 2 and np.abs(a[..., 1] - a[..., 2]).mean() < 2


def _ms26_paintings(styles, photos, rng) -> List[Tuple[str, np.ndarray]]:
    from ..imageio import load_image
    from ..zoo.teachers import Teacher
    out = []
    imgs = [(p, resize_long(load_image(OPENCV_DATA / p), 384)) for p in photos if (OPENCV_DATA / p).exists()]
    for k in styles:
        t = Teacher(f"multistyle26:{k}", threads=1)
        for p, img in imgs:
            y = (np.clip(t(img), 0, 1) * 255 + 0.5).astype(np.uint8)
            out.append((f"ms26-{k}@{Path(p).stem}", _square(y, rng, min_frac=0.8)))
    return out


def build_style_set(seed: int = 0, variants: int = 2, progress: bool = True) -> List[Tuple[str, np.ndarray]]:
    """Training style images (name, 256x256 uint8), never containing a held-out style."""
    from tqdm import tqdm
    import skimage.data
    from ..imageio import load_image
    rng = np.random.default_rng(seed)
    out: List[Tuple[str, np.ndarray]] = []
    files = sorted(p for p in list(OPENCV_DATA.glob("*.jpg")) + list(OPENCV_DATA.glob("*.png"))
                   if p.name not in HELD_FILES)
    for p in tqdm(files, desc="style photos", disable=not progress):
        try:
            img = load_image(p)
        except UserError:
            continue
        if min(img.shape[:2]) < 64:
            continue
        for v in range(variants):
            sq = _square(img, rng)
            sq = _colourise(sq[..., 0], rng) if _is_grey(sq) else (_jitter(sq, rng) if v else sq)
            out.append((f"{p.stem}#{v}", sq))
    for n in ("brick", "grass", "gravel"):
        tex = getattr(skimage.data, n)()
        for v in range(4):
            out.append((f"{n}#{v}", _colourise(_square(np.repeat(tex[..., None], 3, 2), rng)[..., 0], rng)))
    ms = [k for k in range(26) if k not in HELD_MS26]
    out += _ms26_paintings(ms, MS26_PHOTOS, rng)
    return out


def held_out_styles() -> List[Tuple[str, np.ndarray]]:
    """Style images never used in training: starry_night, graf1 and two multistyle26 styles."""
    from ..imageio import load_image
    out = []
    for p in (SHARED / "images" / "starry_night.jpg", OPENCV_DATA / "graf1.png"):
        if p.exists():
            out.append((p.stem, load_image(p)))
    rng = np.random.default_rng(123)
    out += _ms26_paintings(HELD_MS26, MS26_PHOTOS[:1], rng)
    return out


def style_bank(cache: Path, teacher, seed: int = 0, progress: bool = True):
    """(names, images [N,256,256,3] uint8, vectors [N,100]) of the training styles, cached as one .npz."""
    path = cache / f"style_set_v{SET_VERSION}_s{seed}.npz"
    if path.exists():
        try:
            z = np.load(path)
            return list(z["names"]), z["images"], z["vectors"]
        except (OSError, ValueError, KeyError):
            pass
    items = build_style_set(seed, progress=progress)
    names = [n for n, _ in items]
    images = np.stack([im for _, im in items])
    vectors = np.stack([teacher.style_vector(im) for im in images]).astype(np.float32)
    with atomic_file(path) as f:
        np.savez(f, names=np.array(names), images=images, vectors=vectors)
    return names, images, vectors
