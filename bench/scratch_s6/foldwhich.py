import sys, torch, torch.nn as nn, copy
from framestyle.nets import build
from framestyle.nets.ms26 import norm_stats
from framestyle.export.onnx import export_onnx
from framestyle.train.data import load_content, default_sources
from framestyle.train.distill import measure_fidelity
from framestyle.zoo.teachers import Teacher
c = torch.load("runs/pastel/checkpoint.pt", weights_only=False)
src = build("ms26", **c["arch_kwargs"]); src.load_state_dict(c["model"]); src.eval()
imgs, _ = load_content(default_sources()); t = Teacher("multistyle26:12")
stats = norm_stats(src, imgs)
L = src.layers(); print(len(L))
for fold in [(3,5,7,9,11,13,14,15,16), (13,14,15,16), (11,13,14,15,16)]:
    dst = copy.deepcopy(src)
    with torch.no_grad():
        for i in fold:
            a, b = L[i], dst.layers()[i]
            mu, var = stats[id(a)]; sc = a.norm.weight / torch.sqrt(var + a.norm.eps)
            b.conv.weight.mul_(sc[:, None, None, None]); b.conv.bias = nn.Parameter(a.norm.bias - mu * sc); b.norm = nn.Identity()
    export_onnx(dst, "runs/s6/fw.onnx", multiple=4)
    print(fold, {k: v for k, v in measure_fidelity("runs/s6/fw.onnx", t).items() if k != "per_image"}, flush=True)
