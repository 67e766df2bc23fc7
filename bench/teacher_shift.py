"""multistyle26's own shift instability per style: the teacher on a photo vs on the same photo shifted by
`--shift` pixels (off its stride-4 grid), compared on the overlap. A ceiling for any student (docs/multi.md).

    python bench/teacher_shift.py [--shift 2] [--images 2]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from framestyle.metrics.fidelity import psnr  # noqa: E402
from framestyle.train.multi import S, HeldOut, teacher_run  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shift", type=int, default=2, help="rows to shift by (2 = off the stride-4 grid)")
    ap.add_argument("--images", type=int, default=2, help="held-out photos used (512 px)")
    a = ap.parse_args()
    held, k, out = HeldOut(512), a.shift, {}
    for s in range(S):
        sw = np.eye(S, dtype=np.float32)[s]
        vals = []
        for x in held.imgs[:a.images]:
            x = x[:x.shape[0] // 4 * 4 - 4, :x.shape[1] // 4 * 4]
            full = teacher_run(held.sess, x, sw)
            moved = teacher_run(held.sess, np.ascontiguousarray(x[k:-k]), sw)
            vals.append(psnr(full[k:-k][8:-8, 8:-8], moved[8:-8, 8:-8]))
        out[s] = round(float(np.mean(vals)), 2)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
