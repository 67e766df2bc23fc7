#!/usr/bin/env bash
# Paired image-to-image example: inputs = offline photos (OpenCV samples + skimage, held-out photos excluded),
# targets = the multistyle26 teacher's style 12 on them. Then train unet-small on the pairs and plot the
# validation curve. Usage: scripts/example_paired.sh [WORKDIR] [MINUTES]
set -euo pipefail
WORK=${1:-runs/example-paired}
MINUTES=${2:-10}
FRAMESTYLE=${FRAMESTYLE:-framestyle}  # or FRAMESTYLE="python -m framestyle.cli"
mkdir -p "$WORK"
python - "$WORK" <<'PY'
import sys
from pathlib import Path
import numpy as np
from framestyle.imageio import save_image
from framestyle.train.data import load_content, default_sources, resize_long
from framestyle.zoo.teachers import Teacher
work = Path(sys.argv[1])
(work / "inputs").mkdir(exist_ok=True); (work / "targets").mkdir(exist_ok=True)
srcs = [s for s in default_sources() if not s.endswith((".mp4", ".mkv", ".avi"))]
imgs, names = load_content(srcs, max_side=384)
teacher = Teacher("multistyle26:12", threads=1)
n = 0
for img, name in zip(imgs, names):
    if min(img.shape[:2]) < 256:
        continue
    stem = Path(name.replace(":", "_")).stem
    save_image(img, work / "inputs" / f"{stem}.png")
    save_image((teacher(img) * 255 + 0.5).astype(np.uint8), work / "targets" / f"{stem}.png")
    n += 1
print(f"{n} pairs in {work}")
PY
$FRAMESTYLE train-paired --inputs "$WORK/inputs" --targets "$WORK/targets" --arch unet-small \
  --val-fraction 0.15 --size 192 --batch 4 --minutes "$MINUTES" --threads 1 --sample-every 100 \
  --workdir "$WORK/run" --out-dir "$WORK/model" -o paired-ms12 --json | tee "$WORK/result.json"
python - "$WORK" <<'PY'
import csv, sys
from pathlib import Path
work = Path(sys.argv[1])
rows = list(csv.DictReader(open(work / "run" / "val.csv")))
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ModuleNotFoundError:
    print("matplotlib not installed: see", work / "run" / "val.csv"); sys.exit(0)
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot([int(r["step"]) for r in rows], [float(r["val_psnr"]) for r in rows], marker="o", ms=3)
ax.set_xlabel("step"); ax.set_ylabel("validation PSNR (dB)"); ax.grid(alpha=0.3)
ax.set_title("train-paired unet-small, multistyle26:12 targets")
fig.tight_layout(); fig.savefig(work / "val_curve.png", dpi=100)
print("wrote", work / "val_curve.png")
PY
