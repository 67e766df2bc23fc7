"""What a batch job is: its options, the inputs it finds, where each output goes, and the work on one input.

The work function runs inside a worker (a local process or a Ray actor). It writes the output to a temp file in
the output's own folder and returns its checksum; the coordinator renames it to its final name and only then
records it as done.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from ..errors import UserError
from ..imageio import IMAGE_EXTS, encode_image, format_for

VIDEO_EXTS = {".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v"}
FORMATS = ("png", "jpg", "same")
TEMP_PREFIX = ".fsbatch-"   # every temp file this module writes starts with this


@dataclass
class BatchOptions:
    """Settings that decide what the outputs look like (they make up the options fingerprint)."""
    model: Optional[str] = None
    style: Optional[str] = None
    style_image: Optional[str] = None
    strength: float = 1.0
    preserve_color: bool = False
    max_size: Optional[int] = None
    format: str = "png"
    threads: int = 1          # ORT threads per worker (not part of the fingerprint)

    def make_stylizer(self):
        from ..runtime import Stylizer
        return Stylizer(self.model, style=self.style, style_image=self.style_image,
                        strength=self.strength, preserve_color=self.preserve_color, max_size=self.max_size,
                        threads=self.threads)

    def to_dict(self) -> dict:
        return asdict(self)


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint(opts: BatchOptions, model_path: Path) -> Tuple[str, dict]:
    """A short hash of everything that changes the output bytes, and the readable dict it came from."""
    d = {"model": opts.model or "(default)", "model_sha256": file_sha256(model_path)[:16],
         "style": opts.style, "strength": opts.strength, "preserve_color": opts.preserve_color,
         "max_size": opts.max_size, "format": opts.format,
         "style_image_sha256": file_sha256(Path(opts.style_image))[:16] if opts.style_image else None}
    text = json.dumps(d, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16], d


# -- finding inputs ---------------------------------------------------------------------------------
@dataclass
class Item:
    rel: str                  # relative input path, '/'-separated
    src: Path
    size: int
    mtime_ns: int
    kind: str                 # image | video
    out_rel: str = ""         # relative output path
    tmp: str = ""             # absolute temp path the worker writes
    extra: Dict = field(default_factory=dict)


def _glob_root(pattern: str) -> Path:
    """The folder part of a glob before its first wildcard."""
    parts = Path(pattern).parts
    fixed = []
    for p in parts:
        if glob.has_magic(p):
            break
        fixed.append(p)
    return Path(*fixed) if fixed else Path(".")


def scan(source: str, out_dir: Path, videos: bool) -> Tuple[Path, List[Item], int, bool]:
    """Find the inputs of SOURCE (a folder, scanned recursively, or a glob).

    Returns (input root, items, number of files ignored, whether the scan was recursive).
    """
    source = os.path.expanduser(source)
    p = Path(source)
    if p.is_dir():
        root, recursive = p.resolve(), True
        files = (q for q in root.rglob("*"))
    elif glob.has_magic(source):
        root, recursive = _glob_root(source).resolve(), "**" in source
        files = (Path(h).resolve() for h in glob.glob(source, recursive=True))
    elif p.exists():
        raise UserError(f"{source}: give a folder or a glob (for one image use `framestyle stylize IMAGE -o OUT`)")
    else:
        raise UserError(f"{source}: no such folder")
    out_dir = out_dir.resolve()
    if out_dir == root or (recursive and root in out_dir.parents):
        raise UserError(f"output folder {out_dir} is inside the input {root} and would be scanned as input; "
                        "choose an output folder outside it")
    kinds = {e: "image" for e in IMAGE_EXTS}
    if videos:
        kinds.update({e: "video" for e in VIDEO_EXTS})
    items, ignored = [], 0
    for f in files:
        if f.name.startswith(TEMP_PREFIX) or not f.is_file() or out_dir in f.parents:
            continue
        kind = kinds.get(f.suffix.lower())
        if kind is None:
            ignored += 1
            continue
        st = f.stat()
        items.append(Item(f.relative_to(root).as_posix(), f, st.st_size, st.st_mtime_ns, kind))
    items.sort(key=lambda it: it.rel)
    return root, items, ignored, recursive


def _out_ext(item: Item, fmt: str) -> str:
    if item.kind == "video":
        return ".mp4"
    if fmt == "same":
        return item.src.suffix.lower()
    return "." + fmt


def plan_outputs(root: Path, items: List[Item], out_dir: Path, fmt: str) -> None:
    """Give every input one output path mirroring the input tree (x.jpg -> x.png).

    When two inputs would share an output (x.jpg and x.png in one folder), both keep their full name
    (x.jpg.png, x.png.png) so each input still has exactly one output.
    """
    out_dir = out_dir.resolve()
    want: Dict[str, List[Item]] = {}
    for it in items:
        rel = Path(it.rel)
        want.setdefault(rel.with_suffix(_out_ext(it, fmt)).as_posix().lower(), []).append(it)
    for group in want.values():
        for it in group:
            rel = Path(it.rel)
            ext = _out_ext(it, fmt)
            it.out_rel = (rel.with_suffix(ext) if len(group) == 1 else rel.with_name(rel.name + ext)).as_posix()
            final = out_dir / it.out_rel
            if final == it.src or root in final.parents:
                raise UserError(f"output {final} would be written inside the input tree {root}; "
                                "choose an output folder outside it")


def new_temp(final: Path) -> Path:
    """A fresh temp name next to FINAL that keeps its extension (video writers pick the format from it)."""
    return final.with_name(f"{TEMP_PREFIX}{secrets.token_hex(4)}-{final.name}")


def clean_temps(out_dir: Path) -> int:
    """Remove temp files a killed job left behind; returns how many."""
    n = 0
    for dirpath, _, names in os.walk(out_dir):
        for name in names:
            if name.startswith(TEMP_PREFIX) or name.startswith("." + TEMP_PREFIX):
                try:
                    os.unlink(os.path.join(dirpath, name))
                    n += 1
                except OSError:
                    pass
    return n


# -- the work on one input (runs in a worker) -------------------------------------------------------
def _write_fsync(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def work_one(stylizer, task: dict) -> dict:
    """Stylise one input into task['tmp']; returns {'rel', 'ok', 'sha256' | 'error', 'seconds'}.

    Never raises for a bad input: the error goes back to the coordinator to be recorded.
    """
    t0 = time.perf_counter()
    tmp = Path(task["tmp"])
    try:
        tmp.parent.mkdir(parents=True, exist_ok=True)
        if task["kind"] == "video":
            from ..runtime.live.video import stylize_video
            stylize_video(task["src"], tmp, stylizer, max_size=stylizer.max_size, progress=False)
            sha = file_sha256(tmp)
        else:
            out = stylizer.stylize(task["src"])
            data = encode_image(out, format_for(Path(task["out_rel"])))
            _write_fsync(tmp, data)
            sha = hashlib.sha256(data).hexdigest()
        return {"rel": task["rel"], "ok": True, "sha256": sha, "error": "",
                "seconds": time.perf_counter() - t0}
    except Exception as exc:  # a bad input must not stop the job
        try:
            tmp.unlink()
        except OSError:
            pass
        msg = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
        return {"rel": task["rel"], "ok": False, "sha256": "", "error": msg[:500],
                "seconds": time.perf_counter() - t0}


def to_task(it: Item) -> dict:
    return {"rel": it.rel, "src": str(it.src), "kind": it.kind, "out_rel": it.out_rel, "tmp": it.tmp}
