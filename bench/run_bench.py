"""Speed of every model and of the peer, measured the same way in one run -> docs/benchmarks.md.

    python bench/run_bench.py [--sizes 256x256,640x480,1280x720] [--threads 1,2] [--runs 20]

Our models run through `Stylizer.process` (uint8 RGB frame in, uint8 out: conversion included). The peer is
timed twice: its multistyle26 through a raw ORT session (float input prepared once: model-only, the fastest
way to run it) and through its Python API `StyleTransfer.stylize` (PIL in, PIL out).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from framestyle.metrics.speed import PEER_API, PEER_RAW, bench, parse_sizes  # noqa: E402
from framestyle.zoo import get_model, list_models  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
import gen_docs  # noqa: E402


def card_summary(name: str) -> dict:
    """What the tables need from a model's card: kind, teacher, role, the default or not, fidelity vs the teacher,
    operations per pixel."""
    info = get_model(name)
    fid = info.card.get("fidelity") or {}
    out = {"kind": info.kind, "teacher": info.teacher, "role": info.card.get("role", "student"),
           "default": info.name == get_model().name}
    out.update({k: fid[k] for k in ("psnr", "ssim") if k in fid})
    if info.card.kmac_per_pixel:
        out["kmac_per_pixel"] = info.card.kmac_per_pixel
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="256x256,640x480,1280x720")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=4, help="interleave: runs split over this many passes")
    ap.add_argument("--models", help="comma-separated (default: built-in students, multistyle26, magenta, peer)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    a = ap.parse_args()
    models = a.models.split(",") if a.models else (
        [m.name for m in list_models() if m.builtin] + [PEER_RAW, PEER_API])
    sizes = parse_sizes(a.sizes)
    threads = [int(t) for t in a.threads.split(",")]
    load0 = os.getloadavg()[0]
    rows = bench(models, sizes, threads, runs=a.runs, warmup=3, rounds=a.rounds,
                 progress=lambda r: print(f"{r['model']:28s} {r['width']}x{r['height']} t={r['threads']} "
                                          f"{r['ms_median']:8.1f} ms  p90 {r['ms_p90']:8.1f}  {r['fps']:6.1f} FPS",
                                          flush=True))
    load1 = os.getloadavg()[0]
    cmd = "python bench/run_bench.py " + " ".join(sys.argv[1:])
    out = Path(a.out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    data = {"command": cmd.strip(), "when": time.strftime("%Y-%m-%d %H:%M"), "load": [load0, load1], "runs": a.runs,
            "host": f"{os.cpu_count()} cores ({platform.processor() or platform.machine()})",
            "models": {m: card_summary(m) for m in models if not m.startswith("peer:")}, "rows": rows}
    out.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n")
    text = "\n".join([
        "# Benchmarks", "",
        f"Median and p90 of {a.runs} warm runs after 3 warm-ups, interleaved: {a.rounds} passes through all models "
        "per size and thread count, so a change in the shared host's speed hits every model alike. Our models: "
        f"`Stylizer.process` (uint8 frame in and out, conversion included). `{PEER_RAW}`: the peer's multistyle26 "
        f"through a raw ONNX Runtime session with a prepared float input (model only). `{PEER_API}`: the peer's "
        "`StyleTransfer.stylize` on a PIL image.", "",
        f"<!-- gen:bench {out.with_suffix('.json').name} -->", gen_docs.bench(data) + "<!-- /gen:bench -->", ""])
    out.write_text(text)
    gen_docs.main([])  # every README/docs region that cites this run's JSON
    print(f"wrote {a.out} and its .json (rows for bench/shipped_curve.py)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
