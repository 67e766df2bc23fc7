#!/usr/bin/env bash
# Trains the built-in students shipped in framestyle/zoo/builtin (each card records its exact command).
# Data: offline photos (OpenCV samples via `apt-get install opencv-doc`, skimage.data) + the shared clips;
# the four shared photos aero1/building/home/leuvenA are held out for the fidelity numbers.
# Whole frames (--crop 0): the teachers' instance norms see the whole image, so crops of full-frame targets
# were an inconsistent target (a teacher output on a 256 crop is only ~23 dB from the full-frame output cropped).
# Usage: scripts/train_builtin.sh [STEPS] [NAME...]   (default 3000 steps each, all models, one after another;
# on this 2-core machine two chains ran side by side with 1 thread each). The -fast models are the `fast` net;
# the plain-named ones are teacher-shaped nets that start from the teacher's own weights (docs/students.md),
# shipped with 1000 steps: `ms26` for the multistyle26 teachers (ember, pastel, sepia, nightblue) and `mg` for the
# Magenta ones (starry, graffiti):
#   scripts/train_builtin.sh 1000 sepia pastel   beside   scripts/train_builtin.sh 1000 ember nightblue,
#   then scripts/train_builtin.sh 1000 starry   beside   scripts/train_builtin.sh 1000 graffiti
set -euo pipefail
STEPS=${1:-3000}; shift || true
ONLY=" $* "
OUT=framestyle/zoo/builtin
FAST=(--arch fast --arch-arg alpha=1.34 --arch-arg blocks=8 --crop 0 --batch 4)
MS26=(--arch ms26 --arch-arg blocks=6 --crop 0 --batch 4 --lr 5e-4)  # fine-tunes the teacher: lower lr
MG=(--arch mg --crop 0 --batch 4 --lr 5e-4)
# the real-time line (docs/students.md): mg with its stem on 2x2 phases (exact), half its norms folded into
# conv biases and a narrower up-path (16,4 of the teacher's 16,8 channels), then int8 (`framestyle quantize`,
# calibrated on the offline photos, byte-exact ends)
RT=(--arch mg --arch-arg stem=phase --arch-arg fold=half --arch-arg up=16,4 --crop 0 --batch 4 --lr 5e-4)
STYLES=../shared/data/images
run() {
  local name=$1; shift
  if [[ "$ONLY" != "  " && "$ONLY" != *" $name "* ]]; then return; fi
  rm -rf "runs/$name"
  local arch=("${FAST[@]}")
  if [[ "$name" != *-fast && "$*" == *multistyle26* ]]; then arch=("${MS26[@]}"); fi
  if [[ "$name" != *-fast && "$*" == *magenta* ]]; then arch=("${MG[@]}"); fi
  if [[ "$name" == *-rt ]]; then
    # the float net is an intermediate (runs/NAME/out); the int8 copy is what ships
    framestyle distill "$@" "${RT[@]}" --steps "$STEPS" --out-dir "runs/$name/out" -o "$name" --threads 1
    framestyle quantize "runs/$name/out/$name.onnx" --int8 -o "$name-int8" --out-dir "$OUT" --force
    return
  fi
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
# the quality line (docs/students.md): teacher-shaped students (mg for Magenta, ms26 for multistyle26)
run starry    --teacher magenta --style-image "$STYLES/starry_night.jpg"
run ember     --teacher multistyle26:5
run sepia     --teacher multistyle26:0
run pastel    --teacher multistyle26:12
run nightblue --teacher multistyle26:19
run graffiti  --teacher magenta --style-image /usr/share/doc/opencv-doc/examples/data/graf1.png
# real time with the teacher-shaped quality (shipped: 2500 steps, one thread each, each beside another training;
# the cards record the runs' own -o / --workdir / --out-dir under runs/s7):
#   scripts/train_builtin.sh 2500 starry-rt   beside   scripts/train_builtin.sh 2500 graffiti-rt
run starry-rt   --teacher magenta --style-image "$STYLES/starry_night.jpg"
run graffiti-rt --teacher magenta --style-image /usr/share/doc/opencv-doc/examples/data/graf1.png
# the real-time student for all 26 multistyle26 styles (docs/multi.md): one conditional net, a random style per
# sample, labels made by a background process; each style is specialised to a fixed int8 graph at run time.
# Only when named: scripts/train_builtin.sh 0 multi26   (the shipped run: --minutes 55, stopped after 8.3 minutes
# and resumed with --minutes 35 --resume, 2 threads, beside five other engineers' jobs)
if [[ "$ONLY" == *" multi26 "* ]]; then
  framestyle distill-multi -o multi26 --minutes 35 --stem-fit 300 --workdir runs/multi26 --out-dir "$OUT" --threads 2
fi
