"""docs/img/hero.png: a held-out shared photo, the default model's output and its teacher's (for the README).

    python scripts/make_hero.py [--photo ../shared/data/images/building.jpg] [--size 320]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photo", default=str(ROOT.parent / "shared" / "data" / "images" / "building.jpg"))
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument("-o", "--output", default=str(ROOT / "docs" / "img" / "hero.png"))
    a = ap.parse_args()
    from PIL import Image, ImageDraw
    from framestyle import Stylizer, load_image, save_image
    from framestyle.train.data import resize_long
    from framestyle.train.data import SHARED
    from framestyle.zoo import get_model
    photo = resize_long(load_image(a.photo), a.size)
    model = get_model()  # the default, by the zoo's one rule
    tiles = [("photo (held out)", photo), (f"{model.name} (default, real time)", Stylizer(model).stylize(photo))]
    teacher, _, painting = (model.teacher or "").partition(":")
    if teacher == "magenta" and (SHARED / "images" / painting).exists():
        out = Stylizer("magenta", style_image=SHARED / "images" / painting).stylize(photo)
        tiles.append(("its teacher (Magenta)", out))
    cols = min(4, len(tiles))
    rows = -(-len(tiles) // cols)
    h, w = photo.shape[:2]
    canvas = Image.new("RGB", (cols * w, rows * (h + 16)), "white")
    d = ImageDraw.Draw(canvas)
    for i, (label, t) in enumerate(tiles):
        r, c = divmod(i, cols)
        canvas.paste(Image.fromarray(t), (c * w, r * (h + 16) + 16))
        d.text((c * w + 3, r * (h + 16) + 2), label, fill="black")
    save_image(np.asarray(canvas), a.output)
    print(f"wrote {a.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
