"""`run_batch`: scan, reconcile with the manifest, run an engine, record every result, summarise."""
from __future__ import annotations

import fcntl
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from ..errors import UserError
from .jobs import FORMATS, BatchOptions, Item, clean_temps, file_sha256, fingerprint, new_temp, plan_outputs, \
    scan, to_task
from .manifest import MANIFEST_NAME, Manifest

LOCK_NAME = ".framestyle-batch.lock"


@dataclass
class BatchResult:
    model: str = ""          # the model it ran
    inputs: int = 0
    done: int = 0            # made by this run
    skipped: int = 0         # already done and verified
    failed: int = 0          # failed in this run
    failed_before: int = 0   # failed in an earlier run and not retried
    ignored: int = 0         # files that are not images (or videos without --videos)
    temps_cleaned: int = 0
    seconds: float = 0.0
    engine: str = "local"
    workers: int = 1
    threads: int = 1
    out_dir: str = ""
    errors: List[dict] = field(default_factory=list)

    @property
    def images_per_s(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.failed_before == 0

    def to_json(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["images_per_s"] = round(self.images_per_s, 3)
        d["seconds"] = round(self.seconds, 3)
        return d


def split_threads(workers: Optional[int], cores: Optional[int] = None) -> tuple:
    """(workers, ORT threads per worker) with workers x threads <= cores."""
    cores = cores or os.cpu_count() or 1
    workers = cores if workers is None else int(workers)
    if workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    return workers, max(1, cores // workers)


def _lock(out_dir: Path):
    fh = open(out_dir / LOCK_NAME, "a")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        raise UserError(f"another batch job is writing to {out_dir}; wait for it or use another output folder") \
            from None
    return fh


def _still_done(row, it: Item, out_dir: Path, fp: str) -> bool:
    """A done row counts only if the input is unchanged and the output is there with its recorded checksum."""
    if row is None or row.state != "done" or row.fingerprint != fp or row.output != it.out_rel:
        return False
    if (row.size, row.mtime_ns) != (it.size, it.mtime_ns):
        return False
    out = out_dir / it.out_rel
    return out.is_file() and file_sha256(out) == row.sha256


def run_batch(source: str, out_dir, opts: BatchOptions, *, workers: Optional[int] = None, engine: str = "local",
              address: Optional[str] = None, videos: bool = False, retry_failed: bool = False,
              progress: bool = True) -> BatchResult:
    """Stylise every image (and, with videos=True, every video) under SOURCE into OUT_DIR, mirroring the tree.

    Resumable: re-running skips verified outputs and redoes anything missing, changed or interrupted.
    """
    if opts.format not in FORMATS:
        raise UserError(f"--format must be one of {', '.join(FORMATS)}, got {opts.format!r}")
    if engine not in ("local", "ray"):
        raise UserError(f"--engine must be local or ray, got {engine!r}")
    if address and engine != "ray":
        raise UserError("--address joins a Ray cluster; use it with --engine ray")
    workers, opts.threads = split_threads(workers)
    out_dir = Path(out_dir).expanduser()
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"{out_dir}: exists and is not a folder")
    root, items, ignored, _ = scan(source, out_dir, videos)
    plan_outputs(root, items, out_dir, opts.format)
    checker = opts.make_stylizer()  # bad model / style / strength fail here, before any worker starts
    checker.session  # noqa: B018 -- opens and checks the model file (corrupt, not a style model): one error
    fp, fp_dict = fingerprint(opts, checker.info.path)
    model = checker.info.name
    del checker
    if engine == "ray":
        from .ray_engine import _import_ray
        _import_ray()

    out_dir.mkdir(parents=True, exist_ok=True)
    res = BatchResult(model=model, inputs=len(items), ignored=ignored, engine=engine, workers=workers,
                      threads=opts.threads,
                      out_dir=str(out_dir.resolve()))
    lock = _lock(out_dir)
    man = Manifest(out_dir)
    try:
        man.check_options(fp, fp_dict)
        res.temps_cleaned = clean_temps(out_dir)
        rows = man.rows()
        todo: List[Item] = []
        for it in items:
            row = rows.get(it.rel)
            if _still_done(row, it, out_dir, fp):
                res.skipped += 1
            elif (row is not None and row.state == "failed" and not retry_failed
                  and (row.size, row.mtime_ns) == (it.size, it.mtime_ns) and row.fingerprint == fp):
                res.failed_before += 1
                res.errors.append({"input": it.rel, "error": row.error, "when": "earlier run"})
            else:
                todo.append(it)
        man.mark_pending(todo, fp)
        for it in todo:
            it.tmp = str(new_temp(out_dir / it.out_rel))
        by_rel = {it.rel: it for it in todo}
        bar = None
        if progress and todo:
            from tqdm import tqdm
            bar = tqdm(total=len(todo), unit="img", desc="batch", dynamic_ncols=True, disable=None)

        def on_result(r: dict) -> None:
            it = by_rel[r["rel"]]
            if r["ok"]:
                final = out_dir / it.out_rel
                os.replace(it.tmp, final)          # the output appears whole, under its final name
                man.mark_done(it.rel, it.out_rel, r["sha256"], r["seconds"])   # only then is it done
                res.done += 1
            else:
                man.mark_failed(it.rel, r["error"], r["seconds"])
                res.failed += 1
                res.errors.append({"input": it.rel, "error": r["error"], "when": "this run"})
            if bar is not None:
                bar.update(1)

        t0 = time.perf_counter()
        try:
            tasks = [to_task(it) for it in todo]
            if engine == "ray" and tasks:
                from .ray_engine import run_ray
                run_ray(tasks, opts, workers, on_result, address=address)
            elif tasks:
                from .local import run_local
                run_local(tasks, opts, workers, on_result)
        finally:
            res.seconds = time.perf_counter() - t0
            if bar is not None:
                bar.close()
            clean_temps(out_dir)  # temps of tasks cut short by Ctrl-C or an engine error
    finally:
        man.close()
        lock.close()
    return res


def summary_table(r: BatchResult) -> str:
    lines = [f"{'done':>8} {'skipped':>8} {'failed':>8} {'images/s':>9} {'seconds':>8}  engine",
             f"{r.done:>8} {r.skipped:>8} {r.failed + r.failed_before:>8} {r.images_per_s:>9.2f} "
             f"{r.seconds:>8.1f}  {r.engine} ({r.workers} workers x {r.threads} threads)"]
    for e in r.errors[:20]:
        lines.append(f"failed: {e['input']}: {e['error']}" + (" (earlier run; --retry-failed to retry)"
                                                              if e["when"] != "this run" else ""))
    if len(r.errors) > 20:
        lines.append(f"... and {len(r.errors) - 20} more failures (see --json or {MANIFEST_NAME})")
    return "\n".join(lines)
