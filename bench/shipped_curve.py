"""Speed vs fidelity of every shipped model: speed from the last `bench/run_bench.py` run (docs/benchmarks.json),
fidelity from each model's card (held-out photos at 512 px vs its teacher; arbitrary students: held-out photos
x held-out styles vs Magenta).

    python bench/shipped_curve.py [--bench docs/benchmarks.json] [--threads 2]

Writes docs/img/shipped_curve.png and docs/shipped_curve.md (the table, with the targets of issue #3/#7).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from framestyle.zoo import list_models  # noqa: E402

SIZES = ((640, 480), (1280, 720))


def family(m) -> str:
    q = " int8" if m.card.get("quantization") == "int8" or m.card.get("method") == "int8" else ""
    if m.kind == "arbitrary":
        return "arbitrary" + q
    return (m.card.get("arch") or "derived") + q


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", default=str(ROOT / "docs" / "benchmarks.json"))
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    b = json.loads(Path(a.bench).read_text())
    ms = {(r["model"], r["width"], r["height"]): r["ms_median"] for r in b["rows"] if r["threads"] == a.threads}
    rows = []
    for m in list_models():
        f = m.card.get("fidelity") or {}
        if not m.builtin or "psnr" not in f or (m.name, 640, 480) not in ms:
            continue
        rows.append({"model": m.name, "kind": m.kind, "family": family(m), "psnr": f["psnr"], "ssim": f.get("ssim"),
                     "size_kb": round(m.size_bytes / 1024), **{f"ms_{w}x{h}": ms.get((m.name, w, h)) for w, h in SIZES}})
    rows.sort(key=lambda r: (r["kind"], r["ms_640x480"]))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    fams = sorted({r["family"] for r in rows})
    for ax, (w, h) in zip(axes, SIZES):
        for i, fam in enumerate(fams):
            pts = [r for r in rows if r["family"] == fam and r[f"ms_{w}x{h}"]]
            ax.scatter([1000 / r[f"ms_{w}x{h}"] for r in pts], [r["psnr"] for r in pts], label=fam,
                       marker="os^Dv<>p"[i % 8], s=46)
            for r in pts:
                ax.annotate(r["model"], (1000 / r[f"ms_{w}x{h}"], r["psnr"]), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")
        target_fps = 30 if w == 640 else 15
        ax.axvline(target_fps, color="grey", ls="--", lw=0.8)
        ax.axhline(25, color="grey", ls=":", lw=0.8)
        ax.set_xlabel(f"FPS at {w}x{h} ({a.threads} threads, Stylizer.process)")
        ax.set_ylabel("PSNR vs teacher, dB (held-out, 512 px)")
        ax.set_title(f"{w}x{h}: target {target_fps} FPS and 25 dB (dashed / dotted)")
    axes[0].legend(fontsize=8, loc="lower left")
    fig.suptitle(f"shipped models, speed from `{b['command']}` ({b['when']} UTC)", fontsize=9)
    fig.tight_layout()
    out = ROOT / "docs" / "img" / "shipped_curve.png"
    fig.savefig(out, dpi=110)
    lines = ["# Shipped models: speed vs fidelity", "",
             f"Produced by `python bench/shipped_curve.py --threads {a.threads}` from `{b['command']}` "
             f"({b['when']} UTC, load average {b['load'][0]:.1f} / {b['load'][1]:.1f}) and the model cards.", "",
             "Fixed styles: PSNR/SSIM vs the model's teacher on the 4 held-out photos at 512 px. Arbitrary students: "
             "held-out photos x held-out styles vs Magenta. Targets: >= 30 FPS at 640x480, >= 15 FPS at 1280x720, "
             ">= 25 dB / 0.85 (fixed; #3), >= 20 FPS at 640x480 and >= 22 dB (arbitrary; #7).", "",
             "![shipped models](img/shipped_curve.png)", "",
             "| model | kind | family | KB | ms 640x480 (FPS) | ms 1280x720 (FPS) | PSNR dB | SSIM |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        cells = [f"{r[k]:.1f} ({1000 / r[k]:.1f})" if r[k] else "-" for k in ("ms_640x480", "ms_1280x720")]
        lines.append(f"| {r['model']} | {r['kind']} | {r['family']} | {r['size_kb']} | {cells[0]} | {cells[1]} | "
                     f"{r['psnr']} | {r['ssim']} |")
    (ROOT / "docs" / "shipped_curve.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[8:]))
    print(f"wrote {out} and docs/shipped_curve.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
