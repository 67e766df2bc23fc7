"""Temporal stability two ways (issue #6): a student trained with the stability term vs the runtime stabiliser.

    python bench/stability_compare.py [--models ember,my-steady] [--frames 30] [--max-size 480]

For every shared clip and the synthetic pan (exact flow), each model is run frame by frame and through the
runtime stabiliser; the table gives the warping error (Lai et al., lower = steadier, also as a ratio of the
plain student's frame-by-frame error) and the PSNR against the teacher run on the same frames. The teacher's
own frame-by-frame warping error is the reference row. Writes docs/stability.md.
"""
from __future__ import annotations

import argparse
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
    videos = ["synthetic"] + sorted(str(p) for p in (SHARED / "clips").iterdir()
                                    if p.suffix.lower() in (".mp4", ".avi", ".mkv", ".mov"))
    teacher_spec = get_model(models[0]).teacher
    rows = []
    for v in videos:
        inputs, flows = load_clip(v, a.frames, a.max_size)  # once per clip, shared by every model
        t = Teacher(teacher_spec)
        t_out = [np.clip(t(f) * 255 + 0.5, 0, 255).astype(np.uint8) for f in inputs]
        cuts = scene_cuts(inputs, flows)
        t_err = warping_error(t_out, flows, skip=cuts)
        name = "synthetic pan" if v == "synthetic" else Path(v).name
        base = None
        for m in models:
            r = evaluate_temporal(v, m, frames=a.frames, max_size=a.max_size, clip=(inputs, flows),
                                  teacher_out=t_out)["results"]
            base = base or r["frame_by_frame"]["warping_error_within_shots"]
            for kind in ("frame_by_frame", "stabilised"):
                row = r[kind]
                e = row["warping_error_within_shots"]
                rows.append((name, m, kind.replace("_", "-"), e, e / base, row.get("psnr_vs_teacher"), t_err))
                print(f"{name:24s} {m:18s} {kind:15s} err {e:.5f} "
                      f"({e / base:.2f}x) vs teacher {row.get('psnr_vs_teacher')} dB "
                      f"(teacher err {t_err:.5f})", flush=True)
    cmd = "python bench/stability_compare.py " + " ".join(sys.argv[1:])
    lines = ["# Temporal stability: stability-trained student vs runtime stabiliser", "",
             f"Produced by `{cmd.strip()}` on {time.strftime('%Y-%m-%d %H:%M')} UTC, {a.frames} frames per clip, "
             f"longer side {a.max_size} px. Warping error within shots (Lai et al., REFERENCE.md section 5; "
             "lower = steadier; pairs across a scene cut left out, as in docs/live.md) "
             f"and its ratio to `{models[0]}` frame by frame; PSNR against the teacher ({teacher_spec}) on the same "
             "frames; the teacher's own frame-by-frame warping error for reference.", "",
             "| clip | model | output | warping error | vs plain frame-by-frame | PSNR vs teacher dB | teacher error |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {c} | {m} | {k} | {e:.5f} | {r:.2f}x | {p} | {t:.5f} |" for c, m, k, e, r, p, t in rows]
    a.out.write_text("\n".join(lines) + "\n" + summary(rows))
    print(f"wrote {a.out}")
    return 0


def parse_table(text: str):
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[3][:1].isdigit():
            rows.append((cells[0], cells[1], cells[2], float(cells[3]), float(cells[4].rstrip("x")),
                         float(cells[5]) if cells[5] not in ("None", "") else None, float(cells[6])))
    return rows


def summary(rows) -> str:
    """Ranges over clips of each (model, output) against the plain student frame by frame."""
    base = {(c, m): p for c, m, k, e, r, p, t in rows if k == "frame-by-frame"}
    plain = rows[0][1] if rows else ""
    out = ["", "## Summary", "",
           f"Ranges over the clips; dB = PSNR vs teacher relative to `{plain}` frame by frame.", "",
           "| model | output | warping error vs plain | PSNR change vs teacher |", "| --- | --- | --- | --- |"]
    for m in dict.fromkeys(r[1] for r in rows):
        for k in ("frame-by-frame", "stabilised"):
            sel = [(r, p - base[(c, plain)]) for c, mm, kk, e, r, p, t in rows
                   if mm == m and kk == k and p is not None and (c, plain) in base]
            if not sel:
                continue
            rs, ds = [x[0] for x in sel], [x[1] for x in sel]
            out.append(f"| {m} | {k} | {min(rs):.2f}x to {max(rs):.2f}x | {min(ds):+.2f} to {max(ds):+.2f} dB |")
    out += ["", DECISION]
    return "\n".join(out) + "\n"


DECISION = """**Default shipped.** The runtime stabiliser is the stronger of the two (here it cut flicker to 0.16-0.28x
at a PSNR cost of at most 0.36 dB; the stability-trained student alone reached 0.40-0.46x and lost up to 0.69
dB against the teacher on the clips) and works with every model, teachers and arbitrary styles included. So
`framestyle video` stabilises by default (`--no-stabilize` turns it off; on bottle-detection.mp4 it still runs
faster than real time, docs/live.md). `framestyle live` keeps it opt-in (`--stabilize`, or the `s` key),
since it adds about 6 ms per 640x480 frame to the latency budget. The stability-trained `ember-steady-fast` was
shipped (until the one-model-per-style catalogue, docs/catalogue.md; train one with
`framestyle distill ... --stability 2`) for render loops that cannot afford optical flow: less than half the flicker at zero runtime cost, and
the two combine (0.08-0.17x)."""


if __name__ == "__main__":
    raise SystemExit(main())
