"""How well can a cheap stem stand in for the teacher's? Held-out PSNR of an `ms26` student right after
`start_from` (the teacher's weights copied, the stem fitted to its 1/4-resolution features), before distillation.

    python bench/stem_fit.py [--teacher multistyle26:7] [--variants patch:300,wide:300,half:300,patch:1200]

Same code path as `framestyle distill --arch ms26` (which records this number as `training.start`).
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
    ap.add_argument("--teacher", default="multistyle26:7")
    ap.add_argument("--variants", default="patch:300,wide:300,half:300,patch:1200,teacher:0")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    import torch
    from framestyle import load_image
    from framestyle.nets import build
    from framestyle.train.data import default_sources, held_out_images, load_content, resize_long
    from framestyle.train.distill import cached_pairs, evaluate
    from framestyle.zoo.teachers import Teacher
    torch.set_num_threads(a.threads)
    t = Teacher(a.teacher)
    imgs, names = load_content(default_sources())
    inputs = [x for x, _ in cached_pairs(t, imgs, names, progress=False)[::2]]
    evalset = [(x, (t(x) * 255 + 0.5).astype(np.uint8))
               for x in (resize_long(load_image(p), 512) for p in held_out_images())]
    print(f"{'stem':8s} {'fit steps':>9s} {'fit MSE':>8s} {'start PSNR dB':>13s} {'fit s':>6s}")
    for v in a.variants.split(","):
        stem, _, steps = v.partition(":")
        torch.manual_seed(0)
        net = build("ms26", stem=stem, stem_fit=int(steps or 300))
        t0 = time.perf_counter()
        info = net.start_from(t, inputs, progress=False)
        print(f"{stem:8s} {info['stem_fit_steps']:9d} {info.get('stem_fit_mse') or 0:8.4f} "
              f"{evaluate(net, evalset):13.2f} {time.perf_counter() - t0:6.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
