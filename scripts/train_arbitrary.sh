#!/usr/bin/env bash
# Trains the arbitrary-style models: the cond-fast student distilled from Magenta, the AdaIN decoder, and the
# Magenta-shaped cond-mg student (starts from the Magenta transform's own weights; 1500 steps at lr 5e-4).
# Data (all offline): style set = crops/colour jitter of the OpenCV sample images (opencv-doc), colourised
# skimage textures, multistyle26 outputs of 3 photos (24 styles); held out entirely: starry_night.jpg,
# graf1.png/graf3.png, multistyle26 styles 5 and 17. Content: framestyle.train.data.default_sources()
# minus the held-out photos aero1/building/home/leuvenA. Checkpoints, logs and the teacher pool go to runs/NAME.
# Usage: scripts/train_arbitrary.sh [MINUTES_STUDENT] [MINUTES_ADAIN] [OUT_DIR]
# (the shipped models: 40 and 25 minutes, one core each, then copied into framestyle/zoo/builtin;
# the AdaIN run here also needs --workdir runs/adain-lite0 to match its card, which only changes where logs go)
set -euo pipefail
MS=${1:-40}; MA=${2:-25}; OUT=${3:-runs/export}
nice -n 5 framestyle train-arbitrary -o arbitrary-fast --crop 160 --train-crop 0 --minutes "$MS" --threads 1 --out-dir "$OUT" --json &
nice -n 5 framestyle train-adain -o adain-lite0 --minutes "$MA" --crop 128 --threads 1 --out-dir "$OUT" --json &
wait
# the shipped arbitrary-mg: this command with --workdir runs/arbitrary-mg --out-dir runs/arbitrary-mg/out
nice -n 5 framestyle train-arbitrary -o arbitrary-mg --arch cond-mg --crop 160 --train-crop 0 --steps 1500 --lr 5e-4 \
  --threads 1 --out-dir "$OUT" --json
python bench/arbitrary_bench.py --student "$OUT/arbitrary-fast.onnx" --adain "$OUT/adain-lite0.onnx"
