"""Picture for docs/students.md: input | teacher | the shipped model(s), one row per style.

(The picture in docs/img was made when the `-fast` students shipped beside the teacher-shaped ones; pass
--models-per-style to compare other models, e.g. a .onnx of your own: STYLE=MODEL,MODEL.)

    python bench/shaped_picture.py [--photo building.jpg] [--styles starry,pastel,ember] [--size 384]

Each panel is labelled with its PSNR against the teacher's output on that photo (a held-out photo).
Writes docs/img/shaped_students.jpg.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def label(img: np.ndarray, text: str) -> np.ndarray:
    import cv2
    out = img.copy()
    cv2.rectangle(out, (0, 0), (out.shape[1], 22), (0, 0, 0), -1)
    cv2.putText(out, text, (5, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photo", default="building.jpg")
    ap.add_argument("--styles", default="starry,pastel,ember")
    ap.add_argument("--models-per-style", nargs="*", default=[], help="STYLE=MODEL,MODEL (default: the style itself)")
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "shaped_students.jpg")
    a = ap.parse_args()
    from framestyle import Stylizer
    from framestyle.imageio import load_image
    from framestyle.metrics.fidelity import psnr
    from framestyle.train.data import SHARED, find_style_image, resize_long
    from framestyle.zoo import get_model
    from framestyle.zoo.teachers import Teacher
    x = resize_long(load_image(SHARED / "images" / a.photo), a.size)
    x = x[: x.shape[0] // 4 * 4, : x.shape[1] // 4 * 4]
    rows = []
    for name in a.styles.split(","):
        spec = get_model(name).teacher
        if spec.startswith("magenta:"):
            spec = "magenta:" + str(find_style_image(spec.split(":", 1)[1]))
        t = (Teacher(spec)(x) * 255 + 0.5).astype(np.uint8)
        panels = [label(x, a.photo), label(t, f"teacher {get_model(name).teacher}")]
        extra = dict(x.split("=", 1) for x in a.models_per_style)
        for m in (extra[name].split(",") if name in extra else [name]):
            s = Stylizer(m).stylize(x)
            arch = get_model(m).card.get("arch", "?")
            panels.append(label(s, f"{m} ({arch}) {psnr(s, t):.1f} dB"))
            print(f"{m:12s} {arch:6s} {psnr(s, t):.2f} dB vs teacher on {a.photo}")
        rows.append(np.concatenate(panels, 1))
    from PIL import Image
    tmp = a.out.with_name(a.out.stem + ".part.jpg")
    Image.fromarray(np.concatenate(rows, 0)).save(tmp, quality=85)  # a doc picture: keep the repo lean
    tmp.replace(a.out)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
