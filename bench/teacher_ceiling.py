"""How shift-equivariant is each teacher style? An upper bound on what any differently-built student can reach.

    python bench/teacher_ceiling.py [--size 512] [--styles 0,5,magenta:starry_night.jpg]

--styles takes multistyle26 style numbers or any teacher spec (e.g. magenta:starry_night.jpg).

multistyle26 downsamples with two stride-2 convolutions, so its brush texture is tied to a 4-pixel grid:
shifting the input by 1 or 2 pixels (and shifting the output back) changes the texture. A student whose
own grid differs cannot reproduce that aliasing, so PSNR(teacher(x), shift^-1(teacher(shift(x)))) is a
practical ceiling for pixel fidelity. A 4-px shift keeps the grid, so it isolates the aliasing.
The last column is context: the teacher's instance norms use whole-image statistics, so its output on a
central crop differs from the crop of its full-frame output; students are therefore trained on whole frames
(`framestyle distill --crop 0`, the default). Writes docs/teacher_ceiling.md.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def shifted(teacher, x, s):
    """teacher(x moved s px down-right), moved back: row k matches teacher(x)[k] for k < h - s."""
    xs = np.ascontiguousarray(np.pad(x, ((s, 0), (s, 0), (0, 0)), mode="reflect")[:-s, :-s])
    return teacher(xs)[s:, s:]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--styles", default=",".join(str(i) for i in range(26)))
    a = ap.parse_args()
    from framestyle.imageio import load_image
    from framestyle.metrics.fidelity import psnr
    from framestyle.train.data import held_out_images, resize_long
    from framestyle.zoo.teachers import Teacher
    imgs = [resize_long(load_image(p), a.size) for p in held_out_images()]
    rows = []
    for s in a.styles.split(","):
        t = Teacher(f"multistyle26:{s}" if s.isdigit() else s)
        vals = []
        for x in imgs:
            ref = t(x)
            h, w = x.shape[:2]
            top, left = (h - h // 2) // 8 * 4, (w - w // 2) // 8 * 4  # a centred half-size crop on the grid
            crop = np.ascontiguousarray(x[top:top + h // 2, left:left + w // 2])
            vals.append([psnr(ref[:-1, :-1], shifted(t, x, 1)), psnr(ref[:-2, :-2], shifted(t, x, 2)),
                         psnr(ref[:-4, :-4], shifted(t, x, 4)),
                         psnr(ref[top:top + h // 2, left:left + w // 2], t(crop))])
        v = np.mean(vals, 0)
        s = s if s.isdigit() else t.label
        rows.append((s, *v))
        print(f"style {s:>2}: shift 1 px {v[0]:.2f} dB, 2 px {v[1]:.2f}, 4 px {v[2]:.2f}; "
              f"half-size crop vs full-frame {v[3]:.2f} dB", flush=True)
    cmd = "python bench/teacher_ceiling.py " + " ".join(sys.argv[1:])
    lines = ["# Teacher shift-equivariance: a fidelity ceiling", "",
             f"Produced by `{cmd.strip()}` on {time.strftime('%Y-%m-%d %H:%M')} UTC on the 4 held-out photos "
             f"at {a.size} px. PSNR between a teacher's output and its output on the input shifted by 1 or 2 "
             "pixels (shifted back); numbers are multistyle26 styles, other rows name their teacher. Bold, "
             "textured styles are far from shift-equivariant, so no student "
             "with a different sampling grid can match them pixel for pixel; soft styles can be matched. A 4-px "
             "shift keeps the teacher's grid. The last column compares the teacher's output on a centred "
             "half-size crop with the same region of its full-frame output: its instance norms see the whole "
             "image, so a crop of a full-frame target is not what the teacher makes from that crop. That is why "
             "students train on whole frames (`framestyle distill --crop 0`, the default).", "",
             "| style | 1-px shift dB | 2-px shift dB | 4-px shift dB | half crop vs full frame dB |",
             "| --- | --- | --- | --- | --- |"]
    lines += [f"| {r[0]} | {r[1]:.2f} | {r[2]:.2f} | {r[3]:.2f} | {r[4]:.2f} |"
              for r in sorted(rows, key=lambda r: -r[2])]
    (ROOT / "docs" / "teacher_ceiling.md").write_text("\n".join(lines) + "\n")
    print("wrote docs/teacher_ceiling.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
