#!/usr/bin/env bash
# Trains the any-painting models shipped in framestyle/zoo/builtin: `arbitrary` and `adain-lite0`.
# `arbitrary` is a chain of three runs of the Magenta-shaped conditional student (cond-mg), each started from the
# one before (`--init`): arbitrary-mg (from the Magenta transform's own weights, 1500 steps), arbitrary-cmg (its
# stem rewritten on 2x2 phases, 35 minutes at lr 1e-4), then the shipped net: the phase stem's 5x5 conv cut to 3x3
# (fitted to its own stem first) and the up-path cut to 16,4 channels, 75 minutes at lr 3e-4 (docs/arbitrary.md).
# The first two ran before --label-share existed (the labelling thread worked all along: --label-share 1).
# Data (all offline): style set = crops/colour jitter of the OpenCV sample images (opencv-doc), colourised
# skimage textures, multistyle26 outputs of 3 photos (24 styles); held out entirely: starry_night.jpg,
# graf1.png/graf3.png, multistyle26 styles 5 and 17. Content: framestyle.train.data.default_sources()
# minus the held-out photos aero1/building/home/leuvenA. Checkpoints, logs and the teacher pool go to runs/NAME.
# Usage: scripts/train_arbitrary.sh [MINUTES_ADAIN] [OUT_DIR]   (OUT_DIR=framestyle/zoo/builtin replaces the
# shipped files; the cards record the shipped runs' own --workdir/--out-dir, which only change where logs go)
set -euo pipefail
MA=${1:-25}; OUT=${2:-runs/export}
nice -n 5 framestyle train-adain -o adain-lite0 --minutes "$MA" --crop 128 --threads 1 --out-dir "$OUT" --force \
  --json &
ADAIN=$!
nice -n 5 framestyle train-arbitrary -o arbitrary-mg --arch cond-mg --crop 160 --train-crop 0 --steps 1500 \
  --lr 5e-4 --label-share 1 --threads 1 --workdir runs/arbitrary-mg --out-dir runs/arbitrary-mg/out --json
wait "$ADAIN"
framestyle train-arbitrary -o arbitrary-cmg --arch cond-mg --arch-arg stem=phase \
  --init runs/arbitrary-mg/out/arbitrary-mg.onnx --crop 160 --minutes 35 --lr 1e-4 --label-share 1 --threads 1 \
  --workdir runs/cmg --out-dir runs/cmg/out --json
framestyle train-arbitrary -o arbitrary --arch cond-mg --arch-arg stem=phase3 --arch-arg up=16,4 \
  --init runs/cmg/out/arbitrary-cmg.onnx --crop 160 --minutes 75 --lr 3e-4 --label-share 0.15 --threads 2 \
  --workdir runs/s12/arb --out-dir "$OUT" --force --json
python bench/arbitrary_bench.py --student "$OUT/arbitrary.onnx" --adain "$OUT/adain-lite0.onnx"
