"""Arbitrary-style methods: speed (predictor, per-frame transform) and fidelity to Magenta, plus a picture.

    python bench/arbitrary_bench.py --student arbitrary --adain adain-lite0 --threads 2

Prints a table and writes docs/arbitrary_bench.md (with the command line and the load average) and
docs/img/arbitrary_compare.jpg (content | style | Magenta | student | AdaIN on held-out photos and styles).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from framestyle.imageio import load_image, save_image  # noqa: E402
from framestyle.metrics.fidelity import psnr, ssim  # noqa: E402
from framestyle.runtime.arbitrary import make_backend  # noqa: E402
from framestyle.zoo.catalogue import METHOD_MODELS  # noqa: E402
from framestyle.train.data import OPENCV_DATA, SHARED, held_out_images, resize_long  # noqa: E402


def median_ms(fn, runs: int, clock=time.perf_counter) -> float:
    fn()
    times = []
    for _ in range(runs):
        t0 = clock()
        fn()
        times.append((clock() - t0) * 1000)
    return float(np.median(times))


def timings(mg, st, ad, s_in, starry, frame, vec, stats, runs, clock):
    big = np.ascontiguousarray(np.resize(frame, (720, 1280, 3)))
    return [("Magenta predictor (style vector, 256²)", median_ms(lambda: mg.teacher.predict(s_in), runs, clock)),
            ("AdaIN style stats (style image at 256 px)", median_ms(lambda: ad.style_stats(starry), runs, clock)),
            ("Magenta float transform 640x480", median_ms(lambda: mg.transform(frame, vec), max(3, runs // 3), clock)),
            ("student transform 640x480", median_ms(lambda: st.transform(frame, vec), runs, clock)),
            ("AdaIN transform 640x480", median_ms(lambda: ad.transform(frame, stats), runs, clock)),
            ("student transform 1280x720", median_ms(lambda: st.transform(big, vec), runs, clock))]


def label(img: np.ndarray, text: str) -> np.ndarray:
    import cv2
    out = img.copy()
    cv2.rectangle(out, (0, 0), (len(text) * 9 + 8, 20), (0, 0, 0), -1)
    cv2.putText(out, text, (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--student", default=METHOD_MODELS["student"])
    ap.add_argument("--adain", default="adain-lite0")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--size", type=int, default=512, help="longer side for the fidelity table")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "arbitrary_bench.md")
    ap.add_argument("--picture", type=Path, default=ROOT / "docs" / "img" / "arbitrary_compare.jpg")
    args = ap.parse_args()
    load0 = os.getloadavg()
    mg = make_backend("magenta", threads=args.threads)
    st = make_backend("student", args.student, threads=args.threads, teacher=mg.teacher)
    ad = make_backend("adain", args.adain, threads=args.threads)
    starry = load_image(SHARED / "images" / "starry_night.jpg")
    styles = [("starry_night", starry), ("graf1", load_image(OPENCV_DATA / "graf1.png"))]
    rng = np.random.default_rng(0)
    frame = (rng.random((480, 640, 3)) * 255).astype(np.uint8)
    photo = np.ascontiguousarray(resize_long(load_image(held_out_images()[0]), 640)[:480, :640])
    if photo.shape[:2] == (480, 640):
        frame = photo
    from framestyle.zoo.magenta import style_input
    s_in = style_input(starry)
    vec = mg.prepare(starry)
    stats = ad.prepare(starry)
    wall = timings(mg, st, ad, s_in, starry, frame, vec, stats, args.runs, time.perf_counter)
    # CPU time of single-threaded sessions: what one free core would take, whatever the machine's load
    mg1 = make_backend("magenta", threads=1)
    st1 = make_backend("student", args.student, threads=1, teacher=mg1.teacher)
    ad1 = make_backend("adain", args.adain, threads=1)
    cpu = timings(mg1, st1, ad1, s_in, starry, frame, vec, stats, args.runs, time.process_time)
    load1 = os.getloadavg()
    lines = [f"| step | wall ms ({args.threads} threads) | CPU ms (1 thread) | FPS on one free core |",
             "| --- | --- | --- | --- |"]
    lines += [f"| {n} | {w:.1f} | {c:.1f} | {1000 / c:.1f} |" for (n, w), (_, c) in zip(wall, cpu)]
    # fidelity to Magenta on held-out photos x held-out styles
    fid = ["| photo | style | student PSNR | student SSIM | AdaIN PSNR |", "| --- | --- | --- | --- | --- |"]
    tiles = []
    for p in held_out_images():
        x = resize_long(load_image(p), args.size)
        for sname, simg in styles:
            v = st.prepare(simg)
            ref = (np.clip(mg.teacher.transform(x, v), 0, 1) * 255 + 0.5).astype(np.uint8)
            so = st.transform(x, v).copy()
            ao = ad.transform(x, ad.prepare(simg)).copy()
            fid.append(f"| {p.name} | {sname} | {psnr(so, ref):.2f} | {ssim(so, ref):.4f} | {psnr(ao, ref):.2f} |")
            if p.name in ("home.jpg", "building.jpg"):
                sq = resize_long(simg, max(x.shape[:2]))[: x.shape[0], : x.shape[1]]
                pad = np.zeros_like(x)
                pad[: sq.shape[0], : sq.shape[1]] = sq
                tiles.append(np.concatenate([label(x, "content"), label(pad, f"style: {sname}"),
                                             label(ref, "Magenta"), label(so, "student"),
                                             label(ao, "AdaIN")], axis=1))
    if tiles:
        w = min(t.shape[1] for t in tiles)
        args.picture.parent.mkdir(parents=True, exist_ok=True)
        pic = np.concatenate([t[:, :w] for t in tiles], axis=0)
        save_image(resize_long(pic, 1400), args.picture)
    cmd = "python " + " ".join(sys.argv)
    text = "\n".join([f"# Arbitrary-style methods: speed and fidelity\n", f"Command: `{cmd}`\n",
                      f"ORT threads: {args.threads}; load average before/after: "
                      f"{load0[0]:.1f} / {load1[0]:.1f} on 2 cores (above ~1, other jobs were running and the wall "
                      "times are inflated); CPU ms (process time of a 1-thread session, median) estimates one free "
                      "core.\n",
                      *lines, "", f"Fidelity to the float Magenta transform at {args.size} px (held-out photos "
                      "and held-out style images):\n", *fid, ""])
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
