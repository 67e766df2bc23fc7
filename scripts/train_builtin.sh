#!/usr/bin/env bash
# Trains the built-in students shipped in framestyle/zoo/builtin (each card records its exact command).
# Data: offline photos (OpenCV samples via `apt-get install opencv-doc`, skimage.data) + the shared clips;
# the four shared photos aero1/building/home/leuvenA are held out for the fidelity numbers.
# Whole frames (--crop 0): the teachers' instance norms see the whole image, so crops of full-frame targets
# were an inconsistent target (a teacher output on a 256 crop is only ~23 dB from the full-frame output cropped).
# Usage: scripts/train_builtin.sh [STEPS] [NAME...]   (default 3000 steps each, all models, one after another;
# on this 2-core machine two chains ran side by side with 1 thread each). The -fast models are the `fast` net;
# the plain-named ones (ember, pastel, starry, ...) are the `ladder` net, shipped with 2000 steps:
#   scripts/train_builtin.sh 2000 starry ember sepia   and   scripts/train_builtin.sh 2000 pastel nightblue,
# then scripts/train_builtin.sh 2000 graffiti
set -euo pipefail
STEPS=${1:-3000}; shift || true
ONLY=" $* "
OUT=framestyle/zoo/builtin
FAST=(--arch fast --arch-arg alpha=1.34 --arch-arg blocks=8 --crop 0 --batch 4)
LADDER=(--arch ladder --arch-arg alpha=1.34 --arch-arg blocks=8 --arch-arg norm_every=1 --crop 0 --batch 4)
STYLES=../shared/data/images
run() {
  local name=$1; shift
  if [[ "$ONLY" != "  " && "$ONLY" != *" $name "* ]]; then return; fi
  rm -rf "runs/$name"
  local arch=("${FAST[@]}")
  if [[ "$name" != *-fast ]]; then arch=("${LADDER[@]}"); fi
  framestyle distill "$@" "${arch[@]}" --steps "$STEPS" --out-dir "$OUT" -o "$name" --threads 1
}
run ember-fast     --teacher multistyle26:5
run pastel-fast    --teacher multistyle26:12
run starry-fast    --teacher magenta --style-image "$STYLES/starry_night.jpg"
run nightblue-fast --teacher multistyle26:19
run sepia-fast     --teacher multistyle26:0
run graffiti-fast  --teacher magenta --style-image /usr/share/doc/opencv-doc/examples/data/graf1.png
# the same teacher as ember-fast with the temporal-stability term (docs/live.md compares it with the stabiliser)
run ember-steady-fast --teacher multistyle26:5 --stability 2
# the ladder students: the same teachers, about 2x the cost of the fast ones for ~+1 dB (docs/students.md)
run starry    --teacher magenta --style-image "$STYLES/starry_night.jpg"
run ember     --teacher multistyle26:5
run sepia     --teacher multistyle26:0
run pastel    --teacher multistyle26:12
run nightblue --teacher multistyle26:19
run graffiti  --teacher magenta --style-image /usr/share/doc/opencv-doc/examples/data/graf1.png
