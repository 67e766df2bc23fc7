#!/usr/bin/env bash
# Train a real-time style from a painting (no teacher): fast student + EfficientNet-Lite0 perceptual loss.
# Usage: scripts/example_perceptual.sh [WORKDIR] [MINUTES]   (the docs/training.md example used 14 minutes)
set -euo pipefail
WORK=${1:-runs/example-perceptual}
MINUTES=${2:-14}
FRAMESTYLE=${FRAMESTYLE:-framestyle}  # or FRAMESTYLE="python -m framestyle.cli"
mkdir -p "$WORK"
PAINTING=${PAINTING:-../shared/data/images/starry_night.jpg}
$FRAMESTYLE train --style-image "$PAINTING" --minutes "$MINUTES" --lr 3e-3 --batch 2 --threads 1 \
  --sample-every 50 --workdir "$WORK/run" -o starry-perceptual --json | tee "$WORK/result.json"
# input | result for the held-out photo, from the exported ONNX through the Stylizer
python - "$WORK" <<'PY'
import sys
import numpy as np
from framestyle import load_image
from framestyle.imageio import save_image
from framestyle.runtime.stylizer import Stylizer
from framestyle.train.data import held_out_images, resize_long
x = resize_long(load_image(held_out_images()[0]), 512)
save_image(np.concatenate([x, Stylizer("starry-perceptual").stylize(x)], axis=1), sys.argv[1] + "/input_result.jpg")
print("wrote", sys.argv[1] + "/input_result.jpg")
PY
