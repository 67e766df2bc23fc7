"""Fold the trained pastel (ms26) norms at their average statistics; held-out PSNR vs teacher before any training."""
import sys, torch
from framestyle.nets import build
from framestyle.nets.ms26 import fold_norms
from framestyle.export.onnx import export_onnx
from framestyle.train.data import load_content, default_sources
from framestyle.train.distill import measure_fidelity
from framestyle.zoo.teachers import Teacher as make_teacher
name, spec = sys.argv[1], sys.argv[2]
c = torch.load(f"runs/{name}/checkpoint.pt", weights_only=False)
src = build("ms26", **c["arch_kwargs"]); src.load_state_dict(c["model"]); src.eval()
imgs, _ = load_content(default_sources())
t = make_teacher(spec)
for keep in map(int, sys.argv[3:]):
    dst = build("ms26", **c["arch_kwargs"], norm="fixed", keep=keep).eval()
    print(keep, fold_norms(src, dst, imgs))
    export_onnx(dst, f"runs/s6/fold{keep}.onnx", multiple=4)
    print(keep, {k: v for k, v in measure_fidelity(f"runs/s6/fold{keep}.onnx", t).items() if k != "per_image"}, flush=True)
