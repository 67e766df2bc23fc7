"""docs/img/hero.png: a held-out shared photo in every built-in style, drawn by the gallery (`framestyle sheet`,
framestyle.runtime.sheet.make_sheet), each tile labelled with the name to pass (for the README).

    python scripts/make_hero.py [--photo ../shared/data/images/building.jpg] [--size 320]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photo", default=str(ROOT.parent / "shared" / "data" / "images" / "building.jpg"))
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument("-o", "--output", default=str(ROOT / "docs" / "img" / "hero.png"))
    a = ap.parse_args()
    from framestyle import save_image
    from framestyle.runtime.sheet import make_sheet
    img, labels = make_sheet(a.photo, tile=a.size, cols=4)
    save_image(img, a.output)
    print(f"wrote {a.output}: {', '.join(labels)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
