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
    d.add_argument("--batch", type=int, help="images per step (default 4 whole frames, or 8 crops)")
    d.add_argument("--crop", type=int, default=0,
                   help="0 (default) = whole frames, so the student's norms see what the teacher's saw; "
                        "N = random N x N crops on the teacher's stride grid")
    d.add_argument("--lr", type=float, help="learning rate (default 2e-3; 5e-4 for the nets that start from the "
                                            "teacher's weights: ms26, mg, mg-rt)")
    d.add_argument("--stability", type=float, default=0.0, metavar="W",
                   help="weight of the temporal-stability term (output invariance to noise and small shifts; "
                        "0 = off, 1 is a strong setting)")
    d.add_argument("--int8", action="store_true",
                   help="also write NAME-int8, the int8 copy (`framestyle quantize --int8`): what the -rt built-ins ship")
    d.add_argument("-o", "--output", required=True, help="name of the new model")
    _budget_args(d)
    d.set_defaults(func=cmd_distill)
    m = sub.add_parser("distill-multi", help="distil all 26 multistyle26 styles into one real-time student")
    m.add_argument("-o", "--output", default="multi26", help="name of the new model (default multi26)")
    m.add_argument("--lr", type=float, default=5e-4)
    m.add_argument("--batch", type=int, default=4, help="whole frames per step, each with its own style")
    m.add_argument("--stem-fit", type=int, default=600, help="steps fitting the cheap stem to the teacher's")
    m.add_argument("--finish-only", action="store_true", help="export and measure the work dir's checkpoint")
    _budget_args(m)
    m.set_defaults(func=cmd_distill_multi)
    add_eval_parsers(sub)


def cmd_distill_multi(args):
    from ..train.multi import run
    if not args.minutes:
        raise UserError("distill-multi takes a time budget: --minutes M")
    res = run(args.output, args.workdir or Path("runs") / args.output, args.minutes, args.out_dir, args.lr,
              args.batch, args.stem_fit, args.threads or 2, args.resume, args.finish_only)
    if args.json:
        print(json.dumps(res))
    else:
        f = res["fidelity"]
        print(f"{res['path']}: median {f['psnr_median']} dB, mean {f['psnr']} dB over 26 styles vs multistyle26")
    return 0


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
    if args.batch is None:
        args.batch = 8 if args.crop else 4
    if args.batch < 1 or (args.crop and args.crop < 32):
        raise UserError("--batch must be >= 1 and --crop 0 (whole frames) or >= 32")
    if not 0.0 <= args.stability <= 100.0:
        raise UserError("--stability must be in [0, 100]")
    if args.lr is None:  # the teacher-shaped nets fine-tune the teacher's weights
        args.lr = 5e-4 if args.arch in ("ms26", "mg", "mg-rt") else 2e-3
    if args.int8:
        from ..shrink.quantize import check_name
        check_name(args.output + "-int8", args.output, args.out_dir)  # the int8 name is free: check before training
    res = distill(teacher, args.output, arch=args.arch, arch_kwargs=_arch_kwargs(args.arch_arg),
                  content=args.content, steps=args.steps, minutes=args.minutes, batch=args.batch, crop=args.crop,
                  lr=args.lr, seed=args.seed, workdir=args.workdir, resume=args.resume, out_dir=args.out_dir,
                  threads=args.threads, progress=not args.json, stability=args.stability)
    if args.int8:
        from ..shrink.quantize import quantize
        res["int8"] = quantize(res["path"], "int8", args.output + "-int8", out_dir=args.out_dir)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        f = res.get("fidelity") or {}
        print(f"wrote {res['path']}: {res['steps']} steps in {res['minutes']} min; "
              f"held-out PSNR {f.get('psnr')} dB, SSIM {f.get('ssim')}")
        if args.int8:
            q = res["int8"]
            print(f"wrote {q['path']} (int8): PSNR vs float {q['psnr_vs_source']} dB"
                  + (f", vs teacher {q['psnr_vs_teacher']} dB / SSIM {q['ssim_vs_teacher']}"
                     if "psnr_vs_teacher" in q else ""))
    return 0


def add_eval_parsers(sub):
    e = sub.add_parser("eval", help="evaluate a model: fidelity to its teacher")
    esub = e.add_subparsers(dest="what", metavar="WHAT")
    f = esub.add_parser("fidelity", help="PSNR/SSIM of a student vs its teacher on held-out photos")
    f.add_argument("--model", required=True)
    f.add_argument("--teacher", help="override the card's teacher (multistyle26:N or magenta:STYLE_IMAGE)")
    f.add_argument("--images", nargs="+", help="images or folders (default: the held-out shared photos)")
    f.add_argument("--size", type=int, default=512, help="longer side in pixels")
    f.add_argument("--threads", type=int)
    f.add_argument("--json", action="store_true")
    f.set_defaults(func=cmd_eval_fidelity)
    from .video import add_temporal_args
    add_temporal_args(esub.add_parser("temporal", help="flicker (warping error) of frame-by-frame vs stabilised"))
    e.set_defaults(func=lambda a: (e.print_help(), 2)[1])


def cmd_eval_fidelity(args):
    from ..imageio import IMAGE_EXTS
    from ..train.distill import measure_fidelity
    from ..zoo import get_model
    from ..zoo.teachers import Teacher, card_spec
    info = get_model(args.model)
    spec = args.teacher or info.teacher
    if not spec:
        raise UserError(f"model {info.name!r} has no teacher in its card; pass --teacher")
    spec = card_spec(spec)
    images = None
    if args.images:
        images = []
        for it in args.images:
            p = Path(it)
            if p.is_dir():
                images += sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_EXTS)
            elif p.exists():
                images.append(p)
            else:
                raise UserError(f"{it}: not found")
        if not images:
            raise UserError("no images to evaluate on")
    res = measure_fidelity(info.path, Teacher(spec, threads=args.threads), images, size=args.size)
    res.update(model=info.name, teacher=spec)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        for r in res["per_image"]:
            print(f"{r['image']:24s} PSNR {r['psnr']:6.2f} dB  SSIM {r['ssim']:.4f}")
        print(f"{'mean':24s} PSNR {res['psnr']:6.2f} dB  SSIM {res['ssim']:.4f}  ({info.name} vs {spec})")
    return 0
