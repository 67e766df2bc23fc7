"""Live/video/stabiliser benchmark -> docs/live.md.

    python bench/live_bench.py [--model NAME|PATH] [--seconds 10] [--frames 30] [--out docs/live.md]

Without --model it uses the fastest built-in student in framestyle/zoo/builtin, or (when none exists)
the `fast8` and `fast-tiny` archs exported with random weights (same cost as trained ones; said in the report).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from framestyle.runtime import Stylizer
from framestyle.runtime.live import Stabilizer, run_live, stylize_video
from framestyle.runtime.live.codec import VideoWriter, open_video
from framestyle.runtime.live.sinks import NullSink
from framestyle.runtime.live.sources import FileSource
from framestyle.zoo import list_models

from framestyle.train.data import SHARED  # noqa: E402
from temporal_bench import section as temporal_section  # bench/ is on sys.path when run as a script

CLIPS = SHARED / "clips"


def pick_model(tmp: Path):
    cands = [(m.name, m) for m in list_models() if m.builtin and m.kind == "fixed"]
    note = "built-in student"
    if not cands:
        import torch
        from framestyle.export.onnx import export_onnx
        from framestyle.nets import build
        torch.manual_seed(0)
        for arch in ("fast8", "fast-tiny"):
            export_onnx(build(arch), tmp / f"{arch}.onnx", check=False)
            cands.append((f"{arch} (random weights)", str(tmp / f"{arch}.onnx")))
        note = "no built-in student existed yet: archs exported with random weights (same compute as trained)"
    frame = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    best = None
    for name, m in cands:
        st = Stylizer(m)
        for _ in range(3):
            st.process(frame)
        t = time.perf_counter()
        for _ in range(10):
            st.process(frame)
        ms = (time.perf_counter() - t) * 100
        print(f"  candidate {name}: {ms:.1f} ms @640x480")
        if best is None or ms < best[2]:
            best = (name, m, ms)
    return best[0], best[1], best[2], note


def upscale_clip(src: Path, dst: Path, size=(1280, 720)):
    import cv2
    c = open_video(src)
    with VideoWriter(dst, size[0], size[1], 30, crf=18, preset="ultrafast") as w:
        for fr in c.decode(video=0):
            w.write(cv2.resize(fr.to_ndarray(format="rgb24"), size, interpolation=cv2.INTER_LINEAR))
    c.close()


def live_row(label, path, model, seconds):
    src = FileSource(path, realtime=True, loop=True)
    s = run_live(src, Stylizer(model), NullSink(), duration=seconds)
    lat = s["latency_ms"]
    return {"source": label, "fps": round(s["fps"], 1), "latency_p50_ms": round(lat["p50"]),
            "latency_p90_ms": round(lat["p90"]), "frames_in": s["frames_in"], "frames_out": s["frames_out"],
            "dropped": s["dropped"], "stylise_ms_p50": round(s["stylise_ms_p50"])}


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--out", default="docs/live.md")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="live_bench_"))
    if args.model:
        name, model, ms, note = args.model, args.model, None, "given on the command line"
    else:
        name, model, ms, note = pick_model(tmp)
    print(f"model: {name} ({note})")
    load = os.getloadavg()
    live = [live_row("640x480 (asl_gestures_walk.mkv, looped)", CLIPS / "asl_gestures_walk.mkv", model, args.seconds)]
    print(live[-1])
    upscale_clip(CLIPS / "asl_gestures_walk.mkv", tmp / "walk720.mp4")
    live.append(live_row("1280x720 (same clip upscaled)", tmp / "walk720.mp4", model, args.seconds))
    print(live[-1])
    v = stylize_video(CLIPS / "bottle-detection.mp4", tmp / "bottle.mp4", Stylizer(model), progress=False)
    print(v)
    vs = stylize_video(CLIPS / "bottle-detection.mp4", tmp / "bottle_stab.mp4", Stylizer(model), Stabilizer(0.6),
                       progress=False)
    print(vs)
    cmd = "python bench/live_bench.py " + " ".join(sys.argv[1:])
    temporal = temporal_section(model, args.frames, 640, cmd.strip(), label=name)
    md = f"""# Live, video and temporal stabiliser benchmark

Command: `{cmd.strip()}` (run from the repo root). Model: **{name}** — {note}.
Machine: 2 CPU cores, load average at start {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (above ~1 something else
was using the CPU, a job of ours or the shared host, and these numbers are lower than a quiet machine gives).
{f"Model alone: {ms:.1f} ms per 640x480 frame (median of 10)." if ms else ""}

## `live`: file source paced at its real frame rate (30 FPS), sink null, {args.seconds:g} s each

{table(["source", "delivered FPS", "latency p50 ms", "latency p90 ms", "frames in", "frames out", "dropped",
        "stylise ms p50"], [[str(v) for v in r.values()] for r in live])}

Latency is capture → handed to the sink. Targets: 640x480 ≥ 25 FPS with p90 ≤ 80 ms; 720p ≥ 15 FPS.

## `video`: bottle-detection.mp4 (640x360, 1189 frames, 39.9 s)

| run | total s | x real time | processing FPS | stylise ms/frame |
|---|---|---|---|---|
| frame by frame | {v['seconds']} | {v['speed_x_realtime']} | {v['processing_fps']} | {v['stylise_ms_per_frame']} |
| with --stabilize | {vs['seconds']} | {vs['speed_x_realtime']} | {vs['processing_fps']} | {vs['stylise_ms_per_frame']} |

{temporal}"""
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(md)
    Path(args.out).with_suffix(".json").write_text(json.dumps({  # for scripts/gen_docs.py (gen:rows)
        "command": cmd.strip(), "when": time.strftime("%Y-%m-%d %H:%M"), "load": list(load[:1]), "model": name,
        "rows": live + [{"source": f"video {k}", "fps": r["processing_fps"], "x_realtime": r["speed_x_realtime"],
                         "stylise_ms_p50": r["stylise_ms_per_frame"]} for k, r in (("frame by frame", v),
                                                                                  ("stabilised", vs))]},
        indent=1) + "\n")
    print(md)


if __name__ == "__main__":
    main()
