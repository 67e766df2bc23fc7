import sys, torch
from framestyle.nets import build
from framestyle.train.loop import finish_model
from framestyle.train.data import load_content, default_sources, find_style_image
from framestyle.train.distill import measure_fidelity
from framestyle.zoo.teachers import Teacher
name, style = sys.argv[1], sys.argv[2]
c = torch.load(f"runs/{name}/checkpoint.pt", weights_only=False)
src = build(c["arch"], **c["arch_kwargs"]); src.load_state_dict(c["model"]); src.eval()
imgs, _ = load_content(default_sources()); t = Teacher(f"magenta:{find_style_image(style)}")
for fold in sys.argv[3:]:
    dst = build(c["arch"], **c["arch_kwargs"], fold=fold).eval()
    print(dst.fold_from(src, imgs))
    p = finish_model(dst, f"mgf_{fold}", {}, "runs/s6", multiple=4)
    print(fold, {k: v for k, v in measure_fidelity(p, t).items() if k != "per_image"}, flush=True)
