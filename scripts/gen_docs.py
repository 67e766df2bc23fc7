"""Rewrite the generated regions of README.md and docs/*.md from the bench results in docs/*.json.

    python scripts/gen_docs.py            # rewrite every region
    python scripts/gen_docs.py --check    # exit 1 and name the files whose regions are stale

A region is `<!-- gen:KIND SOURCE -->` ... `<!-- /gen:KIND -->`; KIND picks a table below and SOURCE is a JSON file
in docs/ (e.g. `<!-- gen:speed benchmarks.json -->`). Everything between the markers is replaced, so the numbers in
prose never drift from the last run: edit the bench, re-run it, then this script. A bench that writes
{"command", "when", "rows": [...]} (and optionally "load") can be shown with `gen:rows FILE` without code here;
`speed` and `bench` read bench/run_bench.py's rows (model, width, height, threads, ms_median, ms_p90, fps) and
its "models" (fidelity from each card). tests/test_gen_docs.py checks
that the committed files equal what this script makes from the committed JSON.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Callable, Dict, List

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
REGION = re.compile(r"(<!-- gen:(?P<kind>[\w-]+)(?: (?P<src>[\w.\-/]+))? -->\n)(?P<body>.*?)(<!-- /gen:(?P=kind) -->)",
                    re.S)
PEER_PREFIX = "peer:"


def _load(src: str) -> dict:
    path = DOCS / src
    if not path.exists():
        raise SystemExit(f"error: {path} not found (run the bench that writes it)")
    return json.loads(path.read_text())


def _cell(r: dict) -> str:
    return f"{r['ms_median']:.1f} ms ({r['fps']:.1f} FPS)"


def _threads(data: dict) -> int:
    return max(r["threads"] for r in data["rows"])


def _sizes(data: dict) -> List[tuple]:
    return list(dict.fromkeys((r["width"], r["height"]) for r in data["rows"]))


def _models(data: dict) -> List[str]:
    return list(dict.fromkeys(r["model"] for r in data["rows"]))


def _row(data: dict, model: str, w: int, h: int, threads: int) -> dict:
    return next(r for r in data["rows"] if r["model"] == model and (r["width"], r["height"], r["threads"]) ==
                (w, h, threads))


def provenance(data: dict) -> str:
    load = data.get("load") or []
    tail = f", load average {load[0]:.1f} at the start and {load[-1]:.1f} at the end" if load else ""
    return f"Measured by `{data['command']}` on {data['when']} UTC{tail}."


def fidelity(info: dict) -> str:
    if info.get("role") == "teacher":
        return "teacher (reference)"
    if "psnr" not in info:
        return "-"
    ssim = f", SSIM {info['ssim']:.2f}" if "ssim" in info else ""
    return f"{info['psnr']:.1f} dB{ssim}"


def speed(data: dict) -> str:
    """The short table: frames per second at 640x480 and 1280x720, the speed-up over the peer at the largest
    size, and fidelity vs the model's teacher (from the model cards, recorded in the run)."""
    t = _threads(data)
    sizes = [s for s in _sizes(data) if s[0] >= 640] or _sizes(data)
    big = sizes[-1]
    peer = next((m for m in _models(data) if m.startswith(PEER_PREFIX + "multistyle26")), None)
    peer_ms = _row(data, peer, *big, t)["ms_median"] if peer else None
    models = data.get("models", {})
    head = ["model"] + [f"{w}x{h}" for w, h in sizes] + (
        [f"vs peer at {big[0]}x{big[1]}"] if peer else []) + ["fidelity vs teacher"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    order = sorted(_models(data), key=lambda m: not models.get(m, {}).get("default"))  # the default first
    for m in order:
        cells = [m if m.startswith(PEER_PREFIX) else
                 f"**`{m}`** (default)" if models.get(m, {}).get("default") else f"`{m}`"]
        cells += [f"{_row(data, m, w, h, t)['fps']:.1f} FPS" for w, h in sizes]
        if peer:
            cells.append(f"{peer_ms / _row(data, m, *big, t)['ms_median']:.1f}x")
        cells.append("-" if m.startswith(PEER_PREFIX) else fidelity(models.get(m, {})))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + f"\n\n{provenance(data)} {t} threads, median of {data['runs']} warm runs per model.\n"


def bench(data: dict) -> str:
    """The full table: every model, size and thread count (median and p90 ms, FPS)."""
    sizes = _sizes(data)
    out = [provenance(data), ""]
    for t in sorted({r["threads"] for r in data["rows"]}, reverse=True):
        out += [f"### {t} thread{'s' if t > 1 else ''}", "",
                "| model | " + " | ".join(f"{w}x{h} ms (p90) | FPS" for w, h in sizes) + " |",
                "| --- | " + " | ".join("--- | ---" for _ in sizes) + " |"]
        for m in _models(data):
            rs = [_row(data, m, w, h, t) for w, h in sizes]
            out.append(f"| {m} | " + " | ".join(f"{r['ms_median']:.1f} ({r['ms_p90']:.1f}) | {r['fps']:.1f}"
                                                 for r in rs) + " |")
        out.append("")
    return "\n".join(out)


def rows(data: dict) -> str:
    """Any bench JSON of the shape {command, when, rows: [{...}]}: one column per key of the rows, in order."""
    keys = list(dict.fromkeys(k for r in data["rows"] for k in r))
    lines = ["| " + " | ".join(keys) + " |", "|" + " --- |" * len(keys)]
    for r in data["rows"]:
        lines.append("| " + " | ".join(_fmt(r.get(k, "")) for k in keys) + " |")
    return "\n".join(lines) + f"\n\n{provenance(data)}\n"


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
    return str(v)


def run(data: dict) -> str:
    """Only the provenance line (for prose that cites a run)."""
    return provenance(data) + "\n"


def styles(card: dict) -> str:
    """A multi-style model card's per-style fidelity (`fidelity.per_style`), beside the file it replaced
    (`previous.per_style`) when the card has one."""
    fid, prev = card["fidelity"], {r["style"]: r for r in (card.get("previous") or {}).get("per_style", [])}
    head = "| style | PSNR dB | SSIM |" + (" before, dB | change |" if prev else "") + " style change s |"
    lines = [head, "|" + " --- |" * (head.count("|") - 1)]
    for r in fid["per_style"]:
        row = f"| {r['style']} | {r['psnr']:.2f} | {r['ssim']:.3f} |"
        if prev:
            b = prev.get(r["style"], {}).get("psnr")
            row += f" {b:.2f} | {r['psnr'] - b:+.2f} |" if b is not None else " | |"
        lines.append(row + f" {r['style_change_s']} |")
    summary = (f"Median {fid['psnr_median']:.2f} dB, mean {fid['psnr']:.2f} dB, SSIM {fid['ssim']:.3f} over "
               f"{len(fid['per_style'])} styles ({fid['images']} held-out photos at {fid['size']} px, as the runtime "
               f"runs each style)")
    if prev:
        pf = card["previous"]
        summary += f"; the file before: median {pf['psnr_median']:.2f} dB, mean {pf['psnr']:.2f} dB"
    return "\n".join(lines) + f"\n\n{summary}.\n"


KINDS: Dict[str, Callable[[dict], str]] = {"speed": speed, "bench": bench, "rows": rows, "run": run,
                                           "styles": styles}


def render(text: str) -> str:
    def sub(m: re.Match) -> str:
        kind = m.group("kind")
        if kind not in KINDS:
            raise SystemExit(f"error: unknown region gen:{kind} (known: {', '.join(KINDS)})")
        if not m.group("src"):
            raise SystemExit(f"error: region gen:{kind} names no JSON source")
        return m.group(1) + KINDS[kind](_load(m.group("src"))) + m.group(5)
    return REGION.sub(sub, text)


def targets() -> List[Path]:
    return [ROOT / "README.md"] + sorted(DOCS.glob("*.md"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only report stale files (exit 1 when any)")
    a = ap.parse_args(argv)
    stale = []
    for path in targets():
        old = path.read_text()
        new = render(old)
        if new != old:
            stale.append(path.relative_to(ROOT))
            if not a.check:
                tmp = path.with_suffix(path.suffix + ".tmp")
                tmp.write_text(new)
                tmp.replace(path)
    verb = "stale" if a.check else "rewrote"
    print(f"{verb}: {', '.join(map(str, stale))}" if stale else "up to date")
    return 1 if a.check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
