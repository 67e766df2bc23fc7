"""Batch throughput: images/s of `framestyle batch` on ~100 real photos at 640 px, local pool vs Ray.

    python bench/batch_bench.py [--n 100] [--size 640] [--model NAME] [--out docs/batch.md]

Photos: the shared test images, skimage photos and frames of the shared clips, resized to SIZE px (long side).
Model: the first built-in student, else a tiny untrained `fast` net (alpha 0.34, 2 blocks) - said in the table.
Each row is a fresh output folder; seconds are wall time of run_batch's work phase, including worker start-up.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from framestyle.batch import BatchOptions, run_batch
from framestyle.train.data import SHARED, resize_long, video_frames


def make_photos(folder: Path, n: int, size: int) -> Path:
    from skimage import data
    folder.mkdir(parents=True, exist_ok=True)
    pics = [np.asarray(Image.open(p).convert("RGB")) for p in sorted((SHARED / "images").glob("*.jpg"))]
    pics += [getattr(data, k)() for k in ("astronaut", "chelsea", "coffee", "rocket")]
    clips = sorted(p for p in (SHARED / "clips").iterdir() if p.suffix in (".mp4", ".mkv", ".avi"))
    frames = [f for c in clips for f in video_frames(c, every=3, limit=60)]
    need = max(0, n - len(pics))
    pics += [frames[i] for i in np.linspace(0, len(frames) - 1, need).round().astype(int)] if need else []
    for i, im in enumerate(pics[:n]):
        Image.fromarray(resize_long(im, size)).save(folder / f"photo{i:03d}.jpg", quality=92)
    return folder


def pick_model(name, work: Path) -> tuple:
    from framestyle.zoo import list_models
    if name:
        return name, name
    students = [m for m in list_models() if m.builtin and m.card.get("role") != "teacher"]
    if students:
        return students[0].name, f"built-in student {students[0].name}"
    from framestyle.export.onnx import export_onnx
    from framestyle.nets import build
    path = work / "tiny.onnx"
    export_onnx(build("fast", alpha=0.34, blocks=2), path)
    return str(path), "tiny untrained fast net (alpha 0.34, 2 blocks; no built-in student existed yet)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--size", type=int, default=640)
    ap.add_argument("--model")
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "batch.md")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fsbatch-bench-"))
    os.environ.setdefault("FRAMESTYLE_HOME", str(work / "home"))
    try:
        photos = make_photos(work / "photos", args.n, args.size)
        n = len(list(photos.iterdir()))
        model, model_note = pick_model(args.model, work)
        runs = [("local", 1), ("local", 2)] + ([] if args.no_ray else [("ray", 2), ("ray (Ray already up)", 2)])
        rows = []
        ray = None
        for i, (engine, workers) in enumerate(runs):
            if engine.startswith("ray (") and ray is None:
                from framestyle.batch.ray_engine import _import_ray, _start
                ray = _import_ray()
                _start(ray, None, os.cpu_count() or 1)
            t0 = time.perf_counter()
            r = run_batch(str(photos), work / f"out{i}", BatchOptions(model=model), workers=workers,
                          engine=engine.split()[0], progress=False)
            wall = time.perf_counter() - t0
            assert r.done == n and r.failed == 0, r.errors
            rows.append((engine, workers, r.threads, r.done, r.seconds, r.images_per_s, wall))
            print(f"{engine:22s} workers={workers} threads={r.threads} {r.done} images in {r.seconds:.1f} s "
                  f"= {r.images_per_s:.2f} images/s (whole call {wall:.1f} s)", flush=True)
        if ray is not None:
            ray.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()
    cmd = "python bench/batch_bench.py " + " ".join(sys.argv[1:])
    lines = [f"Command: `{cmd.strip()}`", "",
             f"{n} real photos (shared test images, skimage photos, frames of the shared clips) at {args.size} px "
             f"long side, JPEG in, PNG out. Model: {model_note}. Machine: {os.cpu_count()} CPU cores, shared "
             f"with a background training job (load average at the end {load[0]:.1f} / {load[1]:.1f} / "
             f"{load[2]:.1f}), so absolute numbers are noisy; compare rows, not machines.", "",
             "| engine | workers | ORT threads each | images | seconds | images/s |",
             "| --- | --- | --- | --- | --- | --- |"]
    for engine, w, t, done, sec, ips, _ in rows:
        lines.append(f"| {engine} | {w} | {t} | {done} | {sec:.1f} | {ips:.2f} |")
    lines += ["", "Seconds cover the work phase of `run_batch` (worker start-up included, scanning and the "
              "manifest check not). The `ray` row includes starting a private local Ray; the last row reuses a "
              "Ray that is already running, as on a cluster.", ""]
    table = "\n".join(lines)
    marker = "<!-- bench:start -->"
    if args.out.exists() and marker in args.out.read_text():
        head, _, rest = args.out.read_text().partition(marker)
        tail = rest.partition("<!-- bench:end -->")[2]
        text = f"{head}{marker}\n{table}\n<!-- bench:end -->{tail}"
    else:
        text = f"{marker}\n{table}\n<!-- bench:end -->\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
