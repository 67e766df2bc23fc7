"""Fidelity at initialisation of `mg stem=phase up=16,4` with one of the teacher's five residual blocks removed."""
from framestyle.nets import build
from framestyle.train.loop import finish_model
from framestyle.train.data import find_style_image
from framestyle.train.distill import measure_fidelity
from framestyle.zoo.teachers import Teacher
t = Teacher(f"magenta:{find_style_image('starry_night.jpg')}")
for drop in range(5):
    net = build("mg", stem="phase", up="16,4").eval()
    net.load_teacher(t.vec)
    del net.res[drop]
    p = finish_model(net, "dropblock", {}, "runs/s7", multiple=4)
    print("drop", drop + 1, {k: v for k, v in measure_fidelity(p, t).items() if k != "per_image"}, flush=True)
