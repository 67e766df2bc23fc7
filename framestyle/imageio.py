"""Reading and writing images safely: clear errors, atomic writes, never clobber an input."""
from __future__ import annotations

import io
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps

from .errors import UserError

MIN_SIDE = 16
MAX_PIXELS = 100_000_000
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}

ImageLike = Union[str, os.PathLike, bytes, np.ndarray, Image.Image]


def _check_size(w: int, h: int, name: str) -> None:
    if min(w, h) < MIN_SIDE:
        raise UserError(f"{name}: image is too small ({w}x{h}); both sides need at least {MIN_SIDE} px")
    if w * h > MAX_PIXELS:
        raise UserError(f"{name}: image is too large ({w}x{h} = {w * h / 1e6:.0f} MP; the limit is "
                        f"{MAX_PIXELS // 1_000_000} MP)")


def _to_8bit(img: Image.Image) -> Image.Image:
    """High-bit-depth greyscale (16-bit PNG/TIFF, 32-bit int or float) scaled to 8 bits, not clipped to white."""
    if img.mode.startswith("I;16") or img.mode in ("I", "F"):
        arr = np.asarray(img).astype(np.float64)
        if img.mode == "F" and arr.size and np.nanmax(arr) <= 1.0:
            arr = arr * 255.0
        elif img.mode.startswith("I;16") or (arr.size and arr.max() > 255):
            arr = arr / 257.0
        return Image.fromarray(np.clip(np.nan_to_num(arr) + 0.5, 0, 255).astype(np.uint8), "L")
    return img


def _to_rgb(img: Image.Image) -> Image.Image:
    img = _to_8bit(ImageOps.exif_transpose(img))
    if img.mode in ("RGBA", "LA", "P", "PA"):
        img = img.convert("RGBA")
        bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, img)
    return img.convert("RGB")


def load_image(src: ImageLike, name: str | None = None) -> np.ndarray:
    """Return an HxWx3 uint8 RGB array from a path, encoded bytes, PIL image or array."""
    if isinstance(src, np.ndarray):
        arr = src
        if arr.ndim == 2:
            arr = np.repeat(arr[:, :, None], 3, axis=2)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4):
            raise UserError(f"expected an HxWx3 image array, got shape {arr.shape}")
        if arr.dtype != np.uint8:
            arr = np.clip(arr * (255.0 if arr.dtype.kind == "f" else 1), 0, 255).astype(np.uint8)
        _check_size(arr.shape[1], arr.shape[0], name or "array")
        return np.ascontiguousarray(arr[:, :, :3])
    if isinstance(src, Image.Image):
        _check_size(src.width, src.height, name or "image")
        return np.asarray(_to_rgb(src))
    if isinstance(src, (bytes, bytearray)):
        label = name or "input"
        if not src:
            raise UserError(f"{label}: empty input (0 bytes)")
        fh = io.BytesIO(src)
    else:
        path = Path(src)
        label = name or str(path)
        if not path.exists():
            raise UserError(f"{label}: file not found")
        if path.is_dir():
            raise UserError(f"{label}: is a folder, not an image")
        try:
            if path.stat().st_size == 0:
                raise UserError(f"{label}: empty file (0 bytes)")
            fh = open(path, "rb")
        except PermissionError:
            raise UserError(f"{label}: permission denied") from None
    try:
        with fh:
            img = Image.open(fh)
            _check_size(img.width, img.height, label)
            img.load()
            return np.asarray(_to_rgb(img))
    except UserError:
        raise
    except Image.DecompressionBombError:
        raise UserError(f"{label}: image is too large (over {MAX_PIXELS // 1_000_000} MP)") from None
    except Image.UnidentifiedImageError:
        raise UserError(f"{label}: not a readable image (unknown format or not an image)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        why = re.sub(r"\s*<_io\.[^>]*>", "", str(exc)).strip() or type(exc).__name__
        raise UserError(f"{label}: not a readable image ({why})") from None


Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def encode_image(arr: np.ndarray, fmt: str = "PNG", quality: int = 95) -> bytes:
    buf = io.BytesIO()
    img = Image.fromarray(arr)
    fmt = fmt.upper().replace("JPG", "JPEG")
    kw = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def format_for(path: Path) -> str:
    ext = path.suffix.lower()
    table = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".webp": "WEBP",
             ".tif": "TIFF", ".tiff": "TIFF"}
    if ext not in table:
        raise UserError(f"{path}: unsupported output format {ext!r}; use one of {', '.join(sorted(table))}")
    return table[ext]


@contextmanager
def atomic_file(path: Path):
    """A binary file to write `path` through: a temp file in the same folder, renamed over the final name when
    the block ends (removed if it fails), so readers and parallel runs never see a half-written file."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        from .outputs import os_error
        raise os_error(exc, path) from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            from .outputs import os_error
            raise os_error(exc, path) from None
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_file(path) as fh:
        fh.write(data)


def atomic_write_json(path: Path, obj) -> None:
    import json
    atomic_write_bytes(path, json.dumps(obj, indent=2).encode())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_image(arr: np.ndarray, path: Union[str, os.PathLike], quality: int = 95) -> Path:
    path = Path(path)
    atomic_write_bytes(path, encode_image(arr, format_for(path), quality))
    return path


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False
