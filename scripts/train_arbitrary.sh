#!/usr/bin/env bash
# Trains the any-painting models shipped in framestyle/zoo/builtin: `arbitrary` (the Magenta-shaped cond-mg
# student, started from the Magenta transform's own weights, 1500 steps at lr 5e-4, then int8) and `adain-lite0`.
# Data (all offline): style set = crops/colour jitter of the OpenCV sample images (opencv-doc), colourised
# skimage textures, multistyle26 outputs of 3 photos (24 styles); held out entirely: starry_night.jpg,
# graf1.png/graf3.png, multistyle26 styles 5 and 17. Content: framestyle.train.data.default_sources()
# minus the held-out photos aero1/building/home/leuvenA. Checkpoints, logs and the teacher pool go to runs/NAME.
# Usage: scripts/train_arbitrary.sh [MINUTES_ADAIN] [OUT_DIR]   (OUT_DIR=framestyle/zoo/builtin replaces the
# shipped files; the cards record the shipped runs' own --workdir/--out-dir, which only change where logs go)
set -euo pipefail
MA=${1:-25}; OUT=${2:-runs/export}
nice -n 5 framestyle train-adain -o adain-lite0 --minutes "$MA" --crop 128 --threads 1 --out-dir "$OUT" --json &
nice -n 5 framestyle train-arbitrary -o arbitrary-float --arch cond-mg --crop 160 --train-crop 0 --steps 1500 \
  --lr 5e-4 --threads 1 --workdir runs/arbitrary --out-dir runs/arbitrary/out --json
wait
framestyle quantize runs/arbitrary/out/arbitrary-float.onnx --int8 -o arbitrary --out-dir "$OUT" --force --json
python bench/arbitrary_bench.py --student "$OUT/arbitrary.onnx" --adain "$OUT/adain-lite0.onnx"
