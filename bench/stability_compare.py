"""Temporal stability two ways (issue #6): a student trained with the stability term vs the runtime stabiliser.

    python bench/stability_compare.py [--models ember,my-steady] [--frames 30] [--max-size 480]

For every shared clip, the synthetic pan and the synthetic still (exact flow), each model is run frame by frame,
through the runtime stabiliser, and through exponential averaging made as steady as the stabiliser; the table
gives the warping error (Lai et al., lower = steadier, also as a ratio of the plain student's frame-by-frame
error) and the PSNR against the teacher and against frame by frame on the same frames. The teacher's own
frame-by-frame warping error is the reference row. Writes docs/stability.md and docs/stability.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="ember", help="e.g. ember plus a student trained with --stability 2")
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--max-size", type=int, default=480)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "stability.md")
    ap.add_argument("--summary-only", action="store_true", help="recompute the summary from the table in --out")
    a = ap.parse_args()
    if a.summary_only:
        text = a.out.read_text().split("\n## Summary")[0].rstrip("\n")
        a.out.write_text(text + "\n" + summary(parse_table(text)))
        print(summary(parse_table(text)))
        return 0
    from framestyle.metrics.temporal import evaluate_temporal, load_clip, scene_cuts, warping_error
    from framestyle.train.data import SHARED
    from framestyle.zoo import get_model
    from framestyle.zoo.teachers import Teacher
    models = a.models.split(",")
    videos = ["synthetic", "still"] + sorted(str(p) for p in (SHARED / "clips").iterdir()
                                    if p.suffix.lower() in (".mp4", ".avi", ".mkv", ".mov"))
    teacher_spec = get_model(models[0]).teacher
    rows, records = [], []
    for v in videos:
        inputs, flows = load_clip(v, a.frames, a.max_size)  # once per clip, shared by every model
        t = Teacher(teacher_spec)
        t_out = [np.clip(t(f) * 255 + 0.5, 0, 255).astype(np.uint8) for f in inputs]
        cuts = scene_cuts(inputs, flows)
        t_err = warping_error(t_out, flows, skip=cuts)
        name = {"synthetic": "synthetic pan", "still": "synthetic still (photo + sensor noise)"}.get(v, Path(v).name)
        base = None
        for m in models:
            res = evaluate_temporal(v, m, frames=a.frames, max_size=a.max_size, clip=(inputs, flows),
                                    teacher_out=t_out)
            r = dict(res["results"])
            eq = res["averaged_at_equal_error"]
            if eq is not None:  # exponential averaging made as steady as the stabiliser
                r["averaged_as_steady"] = eq
            records.append({"clip": name, "model": m, "teacher_error": t_err, "results": r})
            base = base or r["frame_by_frame"]["warping_error_within_shots"]
            for kind in ("frame_by_frame", "stabilised", "averaged_as_steady"):
                if kind not in r:
                    continue
                row = r[kind]
                e = row["warping_error_within_shots"]
                label = f"averaged {row['smooth']:.2f}" if kind == "averaged_as_steady" else kind.replace("_", "-")
                rows.append((name, m, label, e, e / base, row.get("psnr_vs_teacher"),
                             row.get("psnr_vs_frame_by_frame"), t_err))
                print(f"{name:24s} {m:18s} {label:15s} err {e:.5f} "
                      f"({e / base:.2f}x) vs teacher {row.get('psnr_vs_teacher')} dB, vs fbf "
                      f"{row.get('psnr_vs_frame_by_frame')} dB (teacher err {t_err:.5f})", flush=True)
    cmd = "python bench/stability_compare.py " + " ".join(sys.argv[1:])
    lines = ["# Temporal stability: stability-trained student vs runtime stabiliser", "",
             f"Produced by `{cmd.strip()}` on {time.strftime('%Y-%m-%d %H:%M')} UTC, {a.frames} frames per clip, "
             f"longer side {a.max_size} px. Warping error within shots (Lai et al., REFERENCE.md section 5; "
             "lower = steadier; pairs across a scene cut left out, as in docs/live.md) "
             f"and its ratio to `{models[0]}` frame by frame; PSNR against the teacher ({teacher_spec}) and against "
             "the same model frame by frame, on the same frames; the teacher's own frame-by-frame warping error for "
             "reference. `averaged S` = exponential averaging without motion compensation (the peer's --smooth) "
             "with the smallest weight S that is as steady as the stabiliser (missing: no weight <= 0.95 gets there). "
             "The synthetic still is a tripod shot of building.jpg with fresh sensor-like noise every frame "
             "(exact flow: zero).", "",
             "| clip | model | output | warping error | vs plain frame-by-frame | PSNR vs teacher dB "
             "| PSNR vs frame-by-frame dB | teacher error |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {c} | {m} | {k} | {e:.5f} | {r:.2f}x | {p} | {f} | {t:.5f} |" for c, m, k, e, r, p, f, t in rows]
    a.out.write_text("\n".join(lines) + "\n" + summary(rows))
    a.out.with_suffix(".json").write_text(json.dumps({"command": cmd.strip(), "frames": a.frames,
                                                      "max_size": a.max_size, "teacher": teacher_spec,
                                                      "clips": records}, indent=1) + "\n")
    print(f"wrote {a.out} and {a.out.with_suffix('.json')}")
    return 0


def parse_table(text: str):
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 8 and cells[3][:1].isdigit():
            num = [float(c) if c not in ("None", "") else None for c in cells[5:7]]
            rows.append((cells[0], cells[1], cells[2], float(cells[3]), float(cells[4].rstrip("x")), *num,
                         float(cells[7])))
    return rows


def summary(rows) -> str:
    """Ranges over clips of each (model, output) against the plain student frame by frame."""
    base = {(c, m): p for c, m, k, e, r, p, f, t in rows if k == "frame-by-frame"}
    plain = rows[0][1] if rows else ""
    out = ["", "## Summary", "",
           f"Ranges over the clips; dB = PSNR vs teacher relative to `{plain}` frame by frame.", "",
           "| model | output | warping error vs plain | PSNR change vs teacher |", "| --- | --- | --- | --- |"]
    for m in dict.fromkeys(r[1] for r in rows):
        for k in ("frame-by-frame", "stabilised"):
            sel = [(r, p - base[(c, plain)]) for c, mm, kk, e, r, p, f, t in rows
                   if mm == m and kk == k and p is not None and (c, plain) in base]
            if not sel:
                continue
            rs, ds = [x[0] for x in sel], [x[1] for x in sel]
            out.append(f"| {m} | {k} | {min(rs):.2f}x to {max(rs):.2f}x | {min(ds):+.2f} to {max(ds):+.2f} dB |")
    out += ["", "Stabiliser vs averaging made as steady (PSNR vs frame-by-frame, the per-frame look, and vs the "
            "teacher; + = the stabiliser is closer):", "",
            "| clip | model | vs frame-by-frame | vs teacher |", "| --- | --- | --- | --- |"]
    stab = {(c, m): (p, f) for c, m, k, e, r, p, f, t in rows if k == "stabilised"}
    for c, m, k, e, r, p, f, t in rows:
        if k.startswith("averaged") and (c, m) in stab:
            sp, sf = stab[(c, m)]
            dt = f"{sp - p:+.2f} dB" if sp is not None and p is not None else "—"
            out.append(f"| {c} | {m} | {sf - f:+.2f} dB | {dt} |")
    out += ["", DECISION]
    return "\n".join(out) + "\n"


DECISION = """**Still scenes (issue #22).** The stabiliser used to warp the previous output with the flow everywhere,
and DIS reports sub-pixel jitter on sensor noise and compression, so a tripod shot was resampled (smeared) a
little every frame. Now a pixel whose flow is under 0.3 px, or under 1 px where no motion matches the inputs
as well as the flow does (5x5 mean), is blended in place: exactly the exponential average there, no blur. The
table above shows the effect: at equal warping error the stabiliser is at least as close to the per-frame look
as averaging on the synthetic still and on bottle-detection.mp4 (a fixed camera), and far closer where
things move.

**Default shipped.** The runtime stabiliser is the stronger of the two ways (see the summary above; the
stability-trained student alone keeps about half the flicker and loses more against the teacher) and works
with every model, teachers and arbitrary styles included. So `framestyle video` stabilises by default
(`--no-stabilize` turns it off). `framestyle live` keeps it opt-in (`--stabilize`, or the `s` key); its flow
runs on its own thread beside the model (docs/live.md). A stability-trained student (`framestyle distill ...
--stability 2`; the earlier `ember-steady-fast` was one) suits render loops that cannot afford optical flow, and
the two combine."""


if __name__ == "__main__":
    raise SystemExit(main())
