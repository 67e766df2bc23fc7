#!/usr/bin/env bash
# Trains the fixed-style models shipped in framestyle/zoo/builtin (each card records its exact command).
# Data: offline photos (OpenCV samples via `apt-get install opencv-doc`, skimage.data) + the shared clips;
# the four shared photos aero1/building/home/leuvenA are held out for the fidelity numbers.
# Whole frames (--crop 0): the teachers' instance norms see the whole image (docs/teacher_ceiling.md).
# Usage: scripts/train_builtin.sh [STEPS] [NAME...]   (default: all models, one after another; on this 2-core
# machine two chains ran side by side with 1 thread each, e.g.
#   scripts/train_builtin.sh 2500 starry   beside   scripts/train_builtin.sh 2500 graffiti
#   scripts/train_builtin.sh 1000 sepia pastel   beside   scripts/train_builtin.sh 1000 ember nightblue)
# starry, graffiti: the real-time line (docs/students.md): Magenta's own net (`mg`) with its stem on 2x2 phases
#   (exact), half its norms folded into conv biases, a narrower up-path (16,4 of the teacher's 16,8 channels),
#   2500 steps, then int8 (`framestyle quantize`, calibrated on the offline photos, byte-exact ends). The float
#   net is an intermediate (runs/NAME/out); the int8 copy ships under the plain name.
# ember, pastel, sepia, nightblue: teacher-shaped multistyle26 students (`ms26`, 1000 steps). They stay their own
#   files: the 26-style real-time student `multi26` scores below them on their styles (docs/multi.md).
set -euo pipefail
STEPS=${1:-}; shift || true
ONLY=" $* "
OUT=framestyle/zoo/builtin
MS26=(--arch ms26 --arch-arg blocks=6 --crop 0 --batch 4 --lr 5e-4)  # fine-tunes the teacher: lower lr
RT=(--arch mg --arch-arg stem=phase --arch-arg fold=half --arch-arg up=16,4 --crop 0 --batch 4 --lr 5e-4)
STYLES=../shared/data/images
want() { [[ "$ONLY" == "  " || "$ONLY" == *" $1 "* ]]; }
realtime() {
  local name=$1; shift
  want "$name" || return 0
  rm -rf "runs/$name"
  framestyle distill "$@" "${RT[@]}" --steps "${STEPS:-2500}" --workdir "runs/$name" --out-dir "runs/$name/out" \
    -o "$name-float" --threads 1
  framestyle quantize "runs/$name/out/$name-float.onnx" --int8 -o "$name" --out-dir "$OUT" --force
}
shaped() {
  local name=$1; shift
  want "$name" || return 0
  rm -rf "runs/$name"
  framestyle distill "$@" "${MS26[@]}" --steps "${STEPS:-1000}" --out-dir "$OUT" -o "$name" --threads 1
}
realtime starry   --teacher magenta --style-image "$STYLES/starry_night.jpg"
realtime graffiti --teacher magenta --style-image /usr/share/doc/opencv-doc/examples/data/graf1.png
shaped ember     --teacher multistyle26:5
shaped sepia     --teacher multistyle26:0
shaped pastel    --teacher multistyle26:12
shaped nightblue --teacher multistyle26:19
# the real-time student for all 26 multistyle26 styles (docs/multi.md): one conditional net, a random style per
# sample, labels made by a background process; each style is specialised to a fixed int8 graph at run time.
# (the shipped run: --minutes 55, stopped after 8.3 minutes and resumed with --minutes 35 --resume, 2 threads)
# Then (session 11) the shipped file: from that one, each block's second norm live and the body reflect-padded
# (85 minutes; the labeller paused by hand then, --label-share 0.19 now).
if want multi26; then
  framestyle distill-multi -o multi26 --minutes 35 --stem-fit 300 --workdir runs/multi26 --out-dir "$OUT" --threads 2 --force
  framestyle distill-multi -o multi26 --init multi26 --arch-arg body=live --arch-arg pad=reflect --minutes 85 \
    --lr 3e-4 --label-share 0.19 --workdir runs/s11/multi26-live --out-dir "$OUT" --threads 2 --force
fi
python bench/catalogue.py   # docs/catalogue.md from the new cards (add --write-cards after a bench run)
