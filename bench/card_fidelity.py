"""Re-measure the fidelity on each built-in card as the runtime runs the model today (the int8 graph with its
norms in int8, runtime/qnorm.py; the per-style specialised graphs of `multi26` and `arbitrary`), and write it.

    python bench/card_fidelity.py [--models starry,graffiti,...] [--dry-run]

Only models whose runtime graph changes with the int8 norms are measured (int8 files with live norms, and the
specialised students); a float model runs as before. Each card keeps its other fields; `fidelity.measured`
records this command and the date.
"""
from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from framestyle.zoo import list_models  # noqa: E402
from framestyle.zoo.card import ModelCard  # noqa: E402


def runtime_changes(m) -> bool:
    import onnx
    from framestyle.runtime import qnorm
    if m.card.get("specialise"):
        return True
    return qnorm.rewrite_norms(onnx.load(str(m.path))) > 0


def measure(m) -> dict:
    if m.kind == "multi":
        from framestyle.train.multi import fidelity
        return fidelity(m.path)
    if m.kind == "arbitrary":
        from framestyle.train.arbitrary import student_fidelity
        from framestyle.train.style_set import held_out_styles
        from framestyle.zoo.magenta import MagentaTeacher
        want = m.fidelity.get("styles")
        styles = [(n, img) for n, img in held_out_styles() if not want or n in want]
        return student_fidelity(m.path, MagentaTeacher(), styles)
    from framestyle.shrink.quantize import teacher_fidelity
    return teacher_fidelity(m.path, m.teacher)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="", help="comma-separated names (default: every built-in student)")
    ap.add_argument("--dry-run", action="store_true", help="print, do not write the cards")
    a = ap.parse_args()
    names = [n for n in a.models.split(",") if n]
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    for m in list_models():
        if (not m.builtin or not m.teacher or m.kind == "teacher" or m.style is not None  # a named style: its file's
                or (names and m.name not in names)):
            continue
        card_path = m.path.with_suffix(".json")
        if not card_path.exists() or not runtime_changes(m):
            continue
        old = dict(m.fidelity)
        new = measure(m)
        keys = ("psnr_median", "psnr", "ssim")
        print(f"{m.name:12s} " + "  ".join(f"{k} {old.get(k)} -> {new.get(k)}" for k in keys if k in new), flush=True)
        if a.dry_run:
            continue
        card = ModelCard.load(card_path).to_json()
        card["fidelity"] = {**old, **new, "measured": {"command": "python bench/card_fidelity.py", "date": stamp,
                                                      "runtime": "int8 graph, norms in int8 (runtime/qnorm.py)"}}
        ModelCard.from_json(card).save(card_path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
