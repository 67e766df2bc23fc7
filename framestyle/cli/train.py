"""Training commands: distill, train (perceptual), train-paired, eval."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import UserError


def _arch_kwargs(items):
    out = {}
    for it in items or []:
        k, sep, v = it.partition("=")
        if not sep:
            raise UserError(f"--arch-arg takes KEY=VALUE, got {it!r}")
        try:
            out[k] = int(v)
        except ValueError:
            try:
                out[k] = float(v)
            except ValueError:
                out[k] = v
    return out


def _budget_args(p):
    p.add_argument("--steps", type=int, help="number of optimiser steps")
    p.add_argument("--minutes", type=float, help="training time budget in minutes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in the work dir")
    p.add_argument("--workdir", type=Path, help="checkpoints and logs (default runs/NAME)")
    p.add_argument("--out-dir", type=Path, help="where the .onnx and card go (default: the user zoo)")
    p.add_argument("--threads", type=int, help="CPU threads for PyTorch and ORT")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def add_parsers(sub):
    d = sub.add_parser("distill", help="distil a teacher into a tiny real-time student")
    d.add_argument("--teacher", required=True, help="multistyle26:INDEX (or a blend 3:0.5,12:0.5) or magenta")
    d.add_argument("--style-image", help="style image for --teacher magenta")
    d.add_argument("--arch", default="fast", help="student architecture (see `framestyle info`)")
    d.add_argument("--arch-arg", action="append", metavar="K=V", help="architecture option, e.g. alpha=1.34")
    d.add_argument("--content", nargs="+", help="folders, images, videos or globs (default: offline photos+clips)")
    d.add_argument("--batch", type=int, default=8)
    d.add_argument("--crop", type=int, default=256)
    d.add_argument("--lr", type=float, default=2e-3)
    d.add_argument("-o", "--output", required=True, help="name of the new model")
    _budget_args(d)
    d.set_defaults(func=cmd_distill)


def cmd_distill(args):
    from ..train.distill import distill
    teacher = args.teacher
    if teacher == "magenta":
        if not args.style_image:
            raise UserError("--teacher magenta needs --style-image IMG")
        if not Path(args.style_image).exists():
            raise UserError(f"{args.style_image}: style image not found")
        teacher = f"magenta:{args.style_image}"
    elif args.style_image:
        raise UserError("--style-image goes with --teacher magenta")
    if args.batch < 1 or args.crop < 32:
        raise UserError("--batch must be >= 1 and --crop >= 32")
    res = distill(teacher, args.output, arch=args.arch, arch_kwargs=_arch_kwargs(args.arch_arg),
                  content=args.content, steps=args.steps, minutes=args.minutes, batch=args.batch, crop=args.crop,
                  lr=args.lr, seed=args.seed, workdir=args.workdir, resume=args.resume, out_dir=args.out_dir,
                  threads=args.threads, progress=not args.json)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        f = res.get("fidelity") or {}
        print(f"wrote {res['path']}: {res['steps']} steps in {res['minutes']} min; "
              f"held-out PSNR {f.get('psnr')} dB, SSIM {f.get('ssim')}")
    return 0
