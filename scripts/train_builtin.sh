#!/usr/bin/env bash
# Trains the fixed-style models shipped in framestyle/zoo/builtin (each card records its exact command).
# Data: offline photos (OpenCV samples via `apt-get install opencv-doc`, skimage.data) + the shared clips;
# the four shared photos aero1/building/home/leuvenA are held out for the fidelity numbers.
# Whole frames (--crop 0): the teachers' instance norms see the whole image (docs/teacher_ceiling.md).
# Usage: scripts/train_builtin.sh [STEPS] [NAME...]   (default: all models, one after another; on this 2-core
# machine two chains ran side by side with 1 thread each, e.g.
#   scripts/train_builtin.sh 2500 starry   beside   scripts/train_builtin.sh 2500 graffiti
#   scripts/train_builtin.sh 1000 sepia-ms26 pastel-ms26   beside   scripts/train_builtin.sh 1000 ember-ms26)
# starry, graffiti: the real-time line (docs/students.md): Magenta's own net (`mg`) with its stem on 2x2 phases
#   (exact), half its norms folded into conv biases, a narrower up-path (16,4 of the teacher's 16,8 channels),
#   2500 steps, then int8 (`framestyle quantize`, calibrated on the offline photos, byte-exact ends). The float
#   net is an intermediate (runs/NAME/out); the int8 copy ships under the plain name.
# ember, pastel, sepia, nightblue: styles 5, 12, 0 and 19 of `multi26` (zoo/catalogue.py) since session 13, when it
#   scored above their own files on each (docs/multi.md). `shaped` still makes a one-style `ms26` student of one
#   (NAME-ms26, into runs/NAME-ms26/out), only when named.
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
  framestyle distill "$@" "${MS26[@]}" --steps "${STEPS:-1000}" --workdir "runs/$name" --out-dir "runs/$name/out" \
    -o "$name" --threads 1
}
realtime starry   --teacher magenta --style-image "$STYLES/starry_night.jpg"
realtime graffiti --teacher magenta --style-image /usr/share/doc/opencv-doc/examples/data/graf1.png
for s in 5:ember-ms26 0:sepia-ms26 12:pastel-ms26 19:nightblue-ms26; do  # not shipped: only when named
  if [[ "$ONLY" == *" ${s#*:} "* ]]; then shaped "${s#*:}" --teacher "multistyle26:${s%%:*}"; fi
done
# the real-time student for all 26 multistyle26 styles (docs/multi.md): one conditional net, a random style per
# sample, labels made by a background process; each style is specialised to a fixed int8 graph at run time.
# (the shipped run: --minutes 55, stopped after 8.3 minutes and resumed with --minutes 35 --resume, 2 threads)
# Then (session 11) the shipped file: from that one, each block's second norm live and the body reflect-padded
# (85 minutes; the labeller paused by hand then, --label-share 0.19 now); session 12: the stem's first two norms
# live (38 minutes); session 13: the stem's 1/2-resolution conv widened from 16 to 48 channels (110 minutes). Each
# later run read the previous run's labels (its work dir's labels/ was a link to them).
if want multi26; then
  framestyle distill-multi -o multi26 --minutes 35 --stem-fit 300 --workdir runs/multi26 --out-dir "$OUT" --threads 2 --force
  framestyle distill-multi -o multi26 --init multi26 --arch-arg body=live --arch-arg pad=reflect --minutes 85 \
    --lr 3e-4 --label-share 0.19 --workdir runs/s11/multi26-live --out-dir "$OUT" --threads 2 --force
  mkdir -p runs/s12/multi26-stem2 runs/s13/multi26-w48
  ln -sfn "$PWD/runs/s11/multi26-live/labels" runs/s12/multi26-stem2/labels
  ln -sfn "$PWD/runs/s11/multi26-live/labels" runs/s13/multi26-w48/labels
  framestyle distill-multi -o multi26 --init multi26 --arch-arg stem=live --minutes 38 --lr 3e-4 \
    --label-share 0.19 --workdir runs/s12/multi26-stem2 --out-dir "$OUT" --threads 2 --force
  framestyle distill-multi -o multi26 --init multi26 --arch-arg stemw=48 --minutes 110 --lr 3e-4 \
    --label-share 0.19 --workdir runs/s13/multi26-w48 --out-dir "$OUT" --threads 2 --force
fi
python bench/catalogue.py   # docs/catalogue.md from the new cards (add --write-cards after a bench run)
