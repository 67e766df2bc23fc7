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
from framestyle.zoo import list_models  # noqa: E402


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
    lines = ["# Benchmarks", "",
             f"Produced by `{cmd.strip()}` on {time.strftime('%Y-%m-%d %H:%M')} UTC; "
             f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
             f"load average {load0:.1f} at the start and {load1:.1f} at the end. "
             f"Median and p90 of {a.runs} warm runs after 3 warm-ups, interleaved: {a.rounds} passes through all "
             "models per size and thread count, so a change in the shared host's speed hits every model alike.",
             "",
             "Our models: `Stylizer.process` (uint8 frame in and out, conversion included). "
             f"`{PEER_RAW}`: the peer's multistyle26 through a raw ONNX Runtime session with a prepared float "
             f"input (model only). `{PEER_API}`: the peer's `StyleTransfer.stylize` on a PIL image.", ""]
    for t in threads:
        lines += [f"## {t} thread{'s' if t > 1 else ''}", "",
                  "| model | " + " | ".join(f"{w}x{h} ms (p90) | FPS" for w, h in sizes) + " |",
                  "| --- | " + " | ".join("--- | ---" for _ in sizes) + " |"]
        for m in models:
            cells = []
            for (w, h) in sizes:
                r = next(r for r in rows if r["model"] == m and r["threads"] == t and r["width"] == w and r["height"] == h)
                cells.append(f"{r['ms_median']:.1f} ({r['ms_p90']:.1f}) | {r['fps']:.1f}")
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        lines.append("")
    Path(a.out).write_text("\n".join(lines) + "\n")
    Path(a.out).with_suffix(".json").write_text(json.dumps({"command": cmd.strip(), "when": time.strftime(
        "%Y-%m-%d %H:%M"), "load": [load0, load1], "runs": a.runs, "rows": rows}, indent=1) + "\n")
    print(f"wrote {a.out} and its .json (rows for bench/shipped_curve.py)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
