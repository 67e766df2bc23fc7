"""Checks on uploaded images before any decoding work: size, declared type, magic bytes, pixel count."""
from __future__ import annotations

import io
from typing import Optional

from PIL import Image


class HTTPError(Exception):
    """An error answered as JSON {"error": message} with `status` (and optional headers)."""

    def __init__(self, status: int, message: str, headers: Optional[dict] = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


# declared content types we take; application/octet-stream is what curl and some clients send
ALLOWED_TYPES = {"image/jpeg", "image/jpg", "image/pjpeg", "image/png", "image/webp", "image/bmp",
                 "image/x-ms-bmp", "application/octet-stream", ""}


def sniff(data: bytes) -> Optional[str]:
    """Image format from the first bytes, or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:2] == b"BM" and len(data) > 26:
        return "bmp"
    return None


def check_image_bytes(data: bytes, content_type: Optional[str], label: str, max_bytes: int,
                      max_pixels: int) -> str:
    """Raise HTTPError (400/413/415) unless `data` looks like an acceptable image; returns its format."""
    if not data:
        raise HTTPError(400, f"{label}: empty upload (0 bytes)")
    if len(data) > max_bytes:
        raise HTTPError(413, f"{label}: upload is {len(data) / 2**20:.1f} MB; the limit is "
                             f"{max_bytes / 2**20:.1f} MB")
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype not in ALLOWED_TYPES:
        raise HTTPError(415, f"{label}: unsupported content type {ctype!r}; send a JPEG, PNG, WebP or BMP image")
    fmt = sniff(data)
    if fmt is None:
        raise HTTPError(415, f"{label}: not a JPEG, PNG, WebP or BMP file (first bytes {data[:8].hex()})")
    try:
        with Image.open(io.BytesIO(data)) as img:
            w, h = img.size
    except Image.DecompressionBombError:
        raise HTTPError(413, f"{label}: too many pixels") from None
    except Exception as exc:  # PIL raises several types for broken headers
        raise HTTPError(400, f"{label}: not a readable image ({exc})") from None
    if w * h > max_pixels:
        raise HTTPError(413, f"{label}: {w}x{h} = {w * h / 1e6:.1f} MP; the limit is {max_pixels / 1e6:.1f} MP")
    return fmt
