"""Fidelity of a student to its teacher: PSNR and SSIM on RGB in 0..1."""
from __future__ import annotations

import numpy as np


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    a = _f(a)
    b = _f(b)
    mse = float(np.mean((a - b) ** 2))
    return 99.0 if mse <= 1e-10 else 10.0 * np.log10(1.0 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity
    return float(structural_similarity(_f(a), _f(b), channel_axis=2, data_range=1.0))


def _f(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
