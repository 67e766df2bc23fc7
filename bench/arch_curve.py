"""Speed / fidelity curve over student architectures and widths, and the comparison picture.

    python bench/arch_curve.py [--styles 19,5,12] [--steps 400] [--crop 128]

For every style and architecture it distils a student from multistyle26 with the same budget (steps, crop,
batch, seed), then measures: ms per frame at 640x480 and 1280x720 (Stylizer.process, ORT, 2 threads, median
of 15) and PSNR/SSIM vs the teacher on the held-out photos at 512 px. Writes docs/students.md,
docs/img/speed_fidelity.png and docs/img/students.png (input | teacher | each architecture, per style).
Short budgets compare architectures at equal training, not final quality: the shipped students train longer.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ARCHS = [("arm", {}), ("fast-tiny", {}), ("fast", {}), ("fast", {"alpha": 1.34, "blocks": 8}),
         ("fast8", {}), ("fast8", {"alpha": 2.67, "blocks": 8}), ("johnson-quarter", {})]


def tag(arch, kw):
    return arch + "".join(f"-{k}{v}" for k, v in kw.items())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--styles", default="19,5,12")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workdir", default=str(ROOT / "runs" / "curve"))
    ap.add_argument("--remeasure", action="store_true", help="re-time every trained student (on a quiet machine)")
    a = ap.parse_args()
    import cv2
    from framestyle.imageio import load_image
    from framestyle.metrics.speed import test_frame, time_fn
    from framestyle.runtime.stylizer import Stylizer
    from framestyle.train.data import held_out_images, resize_long
    from framestyle.train.distill import distill
    from framestyle.zoo.teachers import Teacher

    work = Path(a.workdir)
    results = []
    done = {}
    for f in work.glob("results-*.json"):  # one file per style: styles can train in parallel processes
        done.update({(r["style"], r["tag"]): r for r in json.loads(f.read_text())})
    frames = {(w, h): test_frame(w, h) for (w, h) in [(640, 480), (1280, 720)]}
    for style in a.styles.split(","):
        for arch, kw in ARCHS:
            t = tag(arch, kw)
            if (style, t) in done:
                row = done[(style, t)]
                if a.remeasure:
                    st = Stylizer(row["path"], threads=2)
                    row["ms"] = {f"{w}x{h}": time_fn(lambda f=f: st.process(f), runs=15, warmup=3)["ms_median"]
                                 for (w, h), f in frames.items()}
                    print(json.dumps({"tag": t, "ms": row["ms"]}), flush=True)
                    mine = [v for (s_, _), v in done.items() if s_ == style]
                    (work / f"results-{style}.json").write_text(json.dumps(mine, indent=2))
                results.append(row)
                continue
            name = f"curve-{style}-{t}"
            out_dir = work / "models"
            r = distill(f"multistyle26:{style}", name, arch=arch, arch_kwargs=kw, steps=a.steps, crop=a.crop,
                        workdir=work / name, out_dir=out_dir, threads=a.threads, progress=False, resume=False,
                        eval_every=10 ** 9) if not (out_dir / f"{name}.onnx").exists() else None
            path = out_dir / f"{name}.onnx"
            card = json.loads(path.with_suffix(".json").read_text())
            st = Stylizer(str(path), threads=2)
            speed = {f"{w}x{h}": time_fn(lambda f=f: st.process(f), runs=15, warmup=3)["ms_median"]
                     for (w, h), f in frames.items()}
            row = {"style": style, "tag": t, "arch": arch, "kw": kw, "params": card["params"],
                   "psnr": card["fidelity"]["psnr"], "ssim": card["fidelity"]["ssim"], "ms": speed,
                   "steps": card["training"]["steps"], "minutes": card["training"]["minutes"], "path": str(path)}
            results.append(row)
            done[(style, t)] = row
            work.mkdir(parents=True, exist_ok=True)
            mine = [v for (s_, _), v in done.items() if s_ == style]
            (work / f"results-{style}.json").write_text(json.dumps(mine, indent=2))
            print(json.dumps(row), flush=True)

    # table
    cmd = "python bench/arch_curve.py " + " ".join(sys.argv[1:])
    lines = ["# Student architectures: speed vs fidelity", "",
             f"Produced by `{cmd.strip()}` on {time.strftime('%Y-%m-%d %H:%M')} UTC (load average "
             f"{os.getloadavg()[0]:.1f} at the end; other jobs shared the 2 cores). Every student: "
             f"{a.steps} steps, "
             + ("whole frames, batch 4 (smaller frames for the first 30%)" if a.crop == 0 else
                f"batch 8 (16 for the first 30% at half crop), crop {a.crop}") + ", Adam 2e-3 cosine, "
             "seed 0, pixel MSE + gradient loss vs multistyle26. Fidelity: mean PSNR/SSIM vs the teacher on the "
             "4 held-out shared photos at 512 px. Speed: `Stylizer.process`, ONNX Runtime, 2 threads, median "
             "of 15 warm runs; the host's load varies (the same 44.5k student measured 13 to 42 ms at 640x480 on "
             "different minutes of this session), so compare speeds within one table and see docs/benchmarks.md "
             "for the quiet-machine run.", "",
             "| style | architecture | params | ms 640x480 | ms 1280x720 | PSNR dB | SSIM |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        lines.append(f"| {r['style']} | {r['tag']} | {r['params']:,} | {r['ms']['640x480']:.1f} | "
                     f"{r['ms']['1280x720']:.1f} | {r['psnr']:.2f} | {r['ssim']:.3f} |")
    img_dir = ROOT / "docs" / "img"
    img_dir.mkdir(parents=True, exist_ok=True)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for style in a.styles.split(","):
        rs = [r for r in results if r["style"] == style]
        ax.scatter([r["ms"]["640x480"] for r in rs], [r["psnr"] for r in rs], label=f"multistyle26:{style}")
        for r in rs:
            ax.annotate(r["tag"], (r["ms"]["640x480"], r["psnr"]), fontsize=7)
    ax.axvline(1000 / 30, ls="--", c="grey")
    ax.text(1000 / 30, ax.get_ylim()[0], " 30 FPS", color="grey", fontsize=8)
    ax.set_xlabel("ms per 640x480 frame (ORT, 2 threads)")
    ax.set_ylabel("PSNR vs teacher (dB), held-out photos")
    ax.set_xscale("log")
    ax.legend(fontsize=8)
    ax.set_title(f"Students after {a.steps} steps")
    fig.tight_layout()
    fig.savefig(img_dir / "speed_fidelity.png", dpi=110)
    # picture: rows = styles, columns = input | teacher | archs
    photo = resize_long(load_image(held_out_images()[2]), 256)
    rows = []
    for style in a.styles.split(","):
        teacher = (Teacher(f"multistyle26:{style}")(photo) * 255 + 0.5).astype(np.uint8)
        cells = [photo, teacher]
        for r in [r for r in results if r["style"] == style]:
            cells.append(Stylizer(r["path"]).stylize(photo))
        rows.append(np.concatenate(cells, axis=1))
    grid = np.concatenate(rows, axis=0)
    labels = ["input", "teacher"] + [tag(x, k) for x, k in ARCHS]
    from PIL import Image, ImageDraw
    im = Image.fromarray(grid)
    canvas = Image.new("RGB", (im.width, im.height + 18), "white")
    canvas.paste(im, (0, 18))
    d = ImageDraw.Draw(canvas)
    for i, lab in enumerate(labels):
        d.text((i * photo.shape[1] + 3, 3), lab, fill="black")
    canvas.save(img_dir / "students.png")
    lines += ["", "![speed vs fidelity](img/speed_fidelity.png)", "",
              f"Rows: multistyle26 styles {a.styles}; columns: " + " | ".join(labels) + " (held-out photo "
              f"{held_out_images()[2].name}).", "", "![students](img/students.png)", ""]
    (ROOT / "docs" / "students.md").write_text("\n".join(lines) + "\n")
    print("wrote docs/students.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
