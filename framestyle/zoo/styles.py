"""Style banks: named Magenta style vectors in one .npz (embed once, blend, reuse).

    bank = embed_images(["monet.jpg", "ink.png"], "styles.npz")      # runs the predictor only for new images
    vec = load_bank("styles.npz").vector("monet")                    # (100,) float32
    blend_bank("styles.npz", "monet:0.7,ink:0.3", "mix.npz")

File format (numpy .npz, no pickles): `format` = "framestyle-styles-v1", `names` [N] str,
`vectors` [N,100] float32, `sha256` [N] str (SHA-256 of each source image's bytes; "" for blends),
`sources` [N] str (file name or the blend recipe).
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from ..errors import UserError
from ..imageio import atomic_write_bytes

FORMAT = "framestyle-styles-v1"
STYLE_DIM = 100
PathLike = Union[str, Path]


@dataclass
class StyleBank:
    names: List[str]
    vectors: np.ndarray  # [N,100] float32
    hashes: List[str] = field(default_factory=list)
    sources: List[str] = field(default_factory=list)

    def __post_init__(self):
        self.vectors = np.asarray(self.vectors, np.float32).reshape(-1, STYLE_DIM)
        n = len(self.names)
        self.hashes = list(self.hashes) or [""] * n
        self.sources = list(self.sources) or [""] * n
        if not (self.vectors.shape[0] == len(self.hashes) == len(self.sources) == n):
            raise UserError("style bank: names, vectors, hashes and sources differ in length")
        if len(set(self.names)) != n:
            dup = sorted({x for x in self.names if self.names.count(x) > 1})
            raise UserError(f"style bank: duplicate style name(s): {', '.join(dup)}")
        if not np.all(np.isfinite(self.vectors)):
            raise UserError("style bank: vectors contain NaN or infinity")

    def vector(self, name: str) -> np.ndarray:
        """The (100,) vector of one style; UserError listing the names when unknown."""
        if name not in self.names:
            raise UserError(f"unknown style {name!r}; the bank has: {', '.join(self.names) or '(nothing)'}")
        return self.vectors[self.names.index(name)].copy()

    def add(self, name: str, vec: np.ndarray, sha256: str = "", source: str = "") -> None:
        """Add or replace a style."""
        vec = np.asarray(vec, np.float32).reshape(1, STYLE_DIM)
        if name in self.names:
            i = self.names.index(name)
            self.vectors[i], self.hashes[i], self.sources[i] = vec[0], sha256, source
            return
        self.names.append(name)
        self.vectors = np.concatenate([self.vectors, vec])
        self.hashes.append(sha256)
        self.sources.append(source)


def load_bank(path: PathLike) -> StyleBank:
    """Read a style bank .npz; UserError for a missing, corrupt or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"style bank not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            if "format" not in z.files or str(z["format"]) != FORMAT:
                raise UserError(f"{path}: not a framestyle style bank (make one with `framestyle style embed`)")
            names = [str(x) for x in z["names"]]
            vectors = z["vectors"]
            hashes = [str(x) for x in z["sha256"]]
            sources = [str(x) for x in z["sources"]]
    except UserError:
        raise
    except Exception as exc:  # zipfile / numpy raise many types for corrupt files
        raise UserError(f"{path}: unreadable style bank ({type(exc).__name__}: {str(exc)[:120]})") from None
    if vectors.ndim != 2 or vectors.shape[1] != STYLE_DIM or vectors.shape[0] != len(names):
        raise UserError(f"{path}: style vectors must be [N,{STYLE_DIM}], got {list(vectors.shape)}")
    return StyleBank(names, vectors, hashes, sources)


def save_bank(bank: StyleBank, path: PathLike) -> Path:
    """Write atomically (temp file + rename)."""
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise UserError(f"{path}: a style bank is written as .npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, format=np.array(FORMAT), names=np.array(bank.names, dtype=str),
             vectors=bank.vectors.astype(np.float32), sha256=np.array(bank.hashes, dtype=str),
             sources=np.array(bank.sources, dtype=str))
    atomic_write_bytes(path, buf.getvalue())
    return path


def embed_images(images: Sequence[PathLike], output: PathLike, threads: Optional[int] = None,
                 append: bool = False, teacher=None) -> dict:
    """Style vectors of pictures (names = file stems) into a bank; returns a summary dict.

    The Magenta teacher caches vectors by image content (memory + disk), so embedding a picture a second
    time does not run the predictor (`predict_runs` in the summary counts real runs).
    """
    from ..imageio import load_image, same_file
    from .magenta import MagentaTeacher
    output = Path(output)
    if not images:
        raise UserError("give at least one style image")
    paths = [Path(p) for p in images]
    for p in paths:
        if output.exists() and same_file(p, output):
            raise UserError(f"{output}: the output is one of the inputs")
    stems = [p.stem for p in paths]
    dup = sorted({s for s in stems if stems.count(s) > 1})
    if dup:
        raise UserError(f"two style images share the name {dup[0]!r}; rename one (names are file stems)")
    teacher = teacher or MagentaTeacher(threads=threads)
    runs0 = teacher.predict_runs
    bank = load_bank(output) if append and output.exists() else StyleBank([], np.zeros((0, STYLE_DIM)))
    for p in paths:
        if not p.is_file():
            raise UserError(f"style image not found: {p}")
        data = p.read_bytes()
        img = load_image(data, f"style image {p}") if data else load_image(p)
        bank.add(p.stem, teacher.style_vector(img), hashlib.sha256(data).hexdigest(), p.name)
    save_bank(bank, output)
    return {"path": str(output), "names": list(bank.names), "sha256": list(bank.hashes),
            "predict_runs": teacher.predict_runs - runs0}


def parse_weights(spec: str) -> Dict[str, float]:
    """'a:0.5,b:0.5' -> {'a': 0.5, 'b': 0.5} normalised to sum 1."""
    out: Dict[str, float] = {}
    for part in filter(None, (p.strip() for p in str(spec).split(","))):
        name, sep, w = part.rpartition(":")
        if not sep or not name:
            name, w = part, "1"
        try:
            val = float(w)
        except ValueError:
            raise UserError(f"bad weight in {part!r}; use NAME:WEIGHT, e.g. monet:0.7,ink:0.3") from None
        if not np.isfinite(val) or val < 0:
            raise UserError(f"weights must be finite and non-negative, got {part!r}")
        out[name] = out.get(name, 0.0) + val
    total = sum(out.values())
    if not out or total <= 0:
        raise UserError(f"no positive weights in {spec!r}")
    return {k: v / total for k, v in out.items()}


def blend_vector(bank: StyleBank, weights: Union[str, Dict[str, float]]) -> np.ndarray:
    """Weighted sum of the bank's vectors (weights normalised to 1)."""
    w = parse_weights(weights) if isinstance(weights, str) else parse_weights(
        ",".join(f"{k}:{v}" for k, v in weights.items()))
    return np.sum([bank.vector(n) * wt for n, wt in w.items()], axis=0).astype(np.float32)


def blend_bank(bank_path: PathLike, weights: str, output: PathLike, name: str = "blend") -> dict:
    """Blend styles of one bank into a new one-style bank at `output` (never the input file)."""
    from ..imageio import same_file
    bank_path, output = Path(bank_path), Path(output)
    bank = load_bank(bank_path)
    if output.exists() and same_file(bank_path, output):
        raise UserError(f"{output}: refusing to overwrite the input bank; choose another -o")
    w = parse_weights(weights)
    vec = blend_vector(bank, w)
    recipe = ",".join(f"{k}:{v:.4f}" for k, v in w.items())
    save_bank(StyleBank([name], vec[None], [""], [recipe]), output)
    return {"path": str(output), "name": name, "weights": w}


def resolve_style(style_bank: Optional[PathLike] = None, style: Optional[str] = None) -> np.ndarray:
    """A vector from `--style-bank FILE --style NAME` (or a blend 'a:0.5,b:0.5'); one-style banks need no name."""
    if style_bank is None:
        raise UserError("--style NAME needs --style-bank FILE.npz")
    bank = load_bank(style_bank)
    if not style:
        if len(bank.names) == 1:
            return bank.vectors[0].copy()
        raise UserError(f"{style_bank} holds {len(bank.names)} styles; choose one with --style "
                        f"({', '.join(bank.names)})")
    if ":" in style or "," in style:
        return blend_vector(bank, style)
    return bank.vector(style)
