"""Fidelity at initialisation of `mg stem=phase` with the phase stem's 5x5 conv cut to its central 3x3 (the 9x9
teacher conv kept only within ~3 px). Usage: stem3init.py"""
import torch
from framestyle.nets import build
from framestyle.train.loop import finish_model
from framestyle.train.data import find_style_image
from framestyle.train.distill import measure_fidelity
from framestyle.zoo.teachers import Teacher
t = Teacher(f"magenta:{find_style_image('starry_night.jpg')}")
for cut in (False, True):
    net = build("mg", stem="phase").eval()
    net.load_teacher(t.vec)
    if cut:
        w = net.stem[1].weight.data
        print("energy kept", float((w[:, :, 1:4, 1:4] ** 2).sum() / (w ** 2).sum()))
        c = torch.nn.Conv2d(12, 32, 3, padding=1)
        c.weight.data.copy_(w[:, :, 1:4, 1:4]); c.bias.data.copy_(net.stem[1].bias.data)
        net.stem[1] = c
    p = finish_model(net, "stem3", {}, "runs/s7", multiple=4)
    print("cut" if cut else "phase", {k: v for k, v in measure_fidelity(p, t).items() if k != "per_image"}, flush=True)
