"""Fidelity at initialisation (no training) of `mg stem=phase` students with a narrower up-path / fewer blocks:
the teacher's weights with channels dropped by `up_keep`. Usage: upinit.py TAG...  (TAG: up=16,4;blocks=4)"""
import sys
from framestyle.nets import build
from framestyle.train.loop import finish_model
from framestyle.train.data import find_style_image
from framestyle.train.distill import measure_fidelity
from framestyle.zoo.teachers import Teacher
t = Teacher(f"magenta:{find_style_image('starry_night.jpg')}")
for tag in sys.argv[1:]:
    kw = dict(a.split("=") for a in tag.split(";") if a)
    net = build("mg", stem="phase", **kw).eval()
    net.load_teacher(t.vec)
    p = finish_model(net, "upinit", {}, "runs/s7", multiple=4)
    print(tag or "teacher", {k: v for k, v in measure_fidelity(p, t).items() if k != "per_image"}, flush=True)
