"""Pixel-level helpers: layout conversion with reflect padding, colour preservation, blending, tiling."""
from __future__ import annotations

import numpy as np

# BT.601 full-range RGB <-> YCbCr (the JPEG matrix)
_TO_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], np.float32)
_FROM_YCC = np.linalg.inv(_TO_YCC).astype(np.float32)


def padded_size(h: int, w: int, multiple: int) -> tuple:
    return h + (-h) % multiple, w + (-w) % multiple


def to_nchw(frame: np.ndarray, out: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 -> float32 [1,3,Hp,Wp] in 0..1 written into `out`, reflect-padded past H,W."""
    h, w = frame.shape[:2]
    hp, wp = out.shape[2:]
    np.multiply(frame.transpose(2, 0, 1), np.float32(1 / 255), out=out[0, :, :h, :w], casting="unsafe")
    if wp > w:
        out[0, :, :h, w:] = out[0, :, :h, w - 2:2 * w - wp - 2:-1] if 2 * w - wp - 2 >= 0 else \
            np.pad(out[0, :, :h, :w], ((0, 0), (0, 0), (0, wp - w)), mode="reflect")[:, :, w:]
    if hp > h:
        out[0, :, h:, :] = out[0, :, h - 2:2 * h - hp - 2:-1, :] if 2 * h - hp - 2 >= 0 else \
            np.pad(out[0, :, :h, :], ((0, 0), (0, hp - h), (0, 0)), mode="reflect")[:, h:, :]
    return out


def to_uint8(y: np.ndarray, h: int, w: int, out: np.ndarray) -> np.ndarray:
    """float [1,3,Hp,Wp] 0..1 -> uint8 HxWx3 (cropped) written into `out`."""
    hwc = y[0, :, :h, :w].transpose(1, 2, 0)
    np.copyto(out, np.clip(hwc * 255.0 + 0.5, 0, 255), casting="unsafe")
    return out


def preserve_color(stylized: np.ndarray, original: np.ndarray) -> np.ndarray:
    """Stylised luminance with the original's chroma (uint8 in, uint8 out)."""
    s = stylized.astype(np.float32)
    o = original.astype(np.float32)
    y = s @ _TO_YCC[0]
    cbcr = o @ _TO_YCC[1:].T
    ycc = np.concatenate([y[..., None], cbcr], axis=2)
    return np.clip(ycc @ _FROM_YCC.T + 0.5, 0, 255).astype(np.uint8)


def blend(stylized: np.ndarray, original: np.ndarray, strength: float) -> np.ndarray:
    if strength >= 1.0:
        return stylized
    if strength <= 0.0:
        return original.copy()
    out = stylized.astype(np.float32) * strength + original.astype(np.float32) * (1.0 - strength)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def tile_spans(n: int, tile: int, overlap: int) -> list:
    """Start offsets of tiles of length `tile` covering 0..n with at least `overlap` shared pixels."""
    if n <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, n - tile, step)) + [n - tile]
    return sorted(set(starts))


def ramp(length: int, start: int, end: int, n: int, overlap: int) -> np.ndarray:
    """1-D blending weight for a tile [start, end) of an axis of size n: linear ramps in the overlaps."""
    wgt = np.ones(length, np.float32)
    r = max(1, overlap)
    if start > 0:
        wgt[:r] = np.minimum(wgt[:r], (np.arange(r, dtype=np.float32) + 0.5) / r)
    if end < n:
        wgt[-r:] = np.minimum(wgt[-r:], (np.arange(r, dtype=np.float32)[::-1] + 0.5) / r)
    return wgt
