"""Training commands: `distill` (from a teacher), `train` (from a painting), `train-paired` (inputs -> targets),
`train-arbitrary` and `train-adain` (any-painting students)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Optional

from ..errors import UserError
from . import args as A


def add_parsers(sub):
    d = sub.add_parser("distill", help="distil a teacher into a tiny real-time student")
    d.add_argument("--teacher", required=True, help="multistyle26:INDEX (or a blend 3:0.5,12:0.5) or magenta")
    d.add_argument("--style-image", help="style image for --teacher magenta")
    A.arch_args(d, "fast")
    d.add_argument("--content", nargs="+", help="folders, images, videos or globs (default: offline photos+clips)")
    d.add_argument("--crop", type=A.nonneg_int, default=0,
                   help="0 (default) = whole frames, so the student's norms see what the teacher's saw; "
                        "N = random N x N crops on the teacher's stride grid")
    d.add_argument("--stability", type=A.float_in(0.0, 100.0), default=0.0, metavar="W",
                   help="weight of the temporal-stability term (output invariance to noise and small shifts; "
                        "0 = off, 1 is a strong setting)")
    d.add_argument("--init", metavar="MODEL",
                   help="start from a trained real-time student at the teacher's style, so training begins "
                        "near the target (its shape replaces --arch): the any-painting student (`arbitrary`) with "
                        "--teacher magenta, `multi26` with --teacher multistyle26:S, or a student of that very "
                        "style (an ms26 student: its up-path norms folded; starry with "
                        "starry_night.jpg, where --arch-arg stem=phase3 cuts its stem to 3x3)")
    d.add_argument("--labels", type=A.positive_int, metavar="N",
                   help="label only N content frames (an even subset) with the teacher; default all, 96 with --init")
    d.add_argument("--int8", action="store_true",
                   help="also write NAME-int8, the int8 copy (`framestyle quantize --int8`): what the -rt built-ins ship")
    A.budget_args(d, lr_help="learning rate (default 2e-3; 5e-4 for the nets that start from the teacher's "
                             "weights: ms26, mg, mg-rt; 1e-4 with --init)")
    d.set_defaults(func=cmd_distill, needs=("torch",))

    t = sub.add_parser("train", help="train a real-time style from a painting (perceptual loss, no teacher)")
    t.add_argument("--style-image", required=True, help="the painting")
    t.add_argument("--content", nargs="+", help="folders, images, videos or globs (default: offline photos+clips)")
    t.add_argument("--layers", nargs="+", metavar="NAME[=W]", help="style layers with optional weights")
    t.add_argument("--content-layers", nargs="+", metavar="NAME[=W]", help="content layers with optional weights")
    t.add_argument("--content-weight", type=A.float_in(0.0), help="default 1")
    t.add_argument("--style-weight", type=A.float_in(0.0), help="default 100")
    t.add_argument("--tv-weight", type=A.float_in(0.0), help="default 1")
    t.add_argument("--style-loss", default="gram", choices=["gram", "meanstd"])
    t.add_argument("--style-size", type=A.side, default=512, help="longer side of the painting in px (default 512)")
    A.arch_args(t, "fast")
    _perceptual_args(t)
    t.set_defaults(func=cmd_train, needs=("torch",))

    p = sub.add_parser("train-paired", help="train image-to-image from inputs/ and targets/ with matching names")
    p.add_argument("--inputs", required=True, type=Path)
    p.add_argument("--targets", required=True, type=Path)
    p.add_argument("--val-fraction", type=A.float_in(0.0, 1.0, hi_open=True), default=0.1)
    p.add_argument("--epochs", type=A.positive_int, help="passes over the training pairs")
    p.add_argument("--perceptual-weight", type=A.float_in(0.0), default=0.002,
                   help="weight of the feature MSE (0 = pixel L1 only)")
    A.arch_args(p, "unet-small")
    _perceptual_args(p)
    p.set_defaults(func=cmd_train_paired, needs=("torch",))

    a = sub.add_parser("train-arbitrary", help="distil Magenta into a fast arbitrary-style student")
    A.arch_args(a, "cond-fast")
    a.add_argument("--crop", type=A.int_in(32, A.MAX_SIDE), default=160,
                   help="side of the content crops Magenta labels (trained whole)")
    a.add_argument("--pool-size", type=A.positive_int, default=3000, help="teacher triples kept in memory")
    a.add_argument("--train-crop", type=A.nonneg_int, default=0,
                   help="random sub-crops of the pool crops for the first 80%% of training (cheaper steps, but "
                        "Magenta's norms saw the whole pool crop, so the targets are less exact); 0 = off")
    a.add_argument("--init", metavar="MODEL",
                   help="continue a trained cond-mg student (a float .onnx export or a zoo name): its weights, its "
                        "stem in this net's form, its up-path cut to this net's widths")
    a.add_argument("--label-share", type=A.float_in(0.01, 1.0), default=0.25, metavar="F",
                   help="once the pool is full the labelling thread works F of the time, leaving the cores to "
                        "training (default 0.25; 1 labels all along, which starved training ~25x on 2 cores)")
    a.add_argument("--no-progress", action="store_true")
    A.budget_args(a, "my-arbitrary", batch=8, lr=2e-3, threads_default=1)
    a.set_defaults(func=cmd_train_arbitrary, needs=("torch",))

    g = sub.add_parser("train-adain", help="train the multi-level AdaIN decoder on EfficientNet-Lite0 features")
    g.add_argument("--crop", type=A.int_in(32, A.MAX_SIDE), default=192)
    g.add_argument("--style-weight", type=A.float_in(0.0), default=3.0)
    g.add_argument("--recon-weight", type=A.float_in(0.0), default=100.0,
                   help="weight of the alpha=0 reconstruction L1")
    g.add_argument("--tv-weight", type=A.float_in(0.0), default=10.0,
                   help="weight of the total-variation term (less noise)")
    g.add_argument("--no-progress", action="store_true")
    A.budget_args(g, "adain-lite0", batch=4, lr=1e-3, threads_default=1)
    g.set_defaults(func=cmd_train_adain, needs=("torch",))

    m = sub.add_parser("distill-multi", help="distil all 26 multistyle26 styles into one real-time student")
    m.add_argument("--stem-fit", type=A.nonneg_int, default=600, help="steps fitting the cheap stem to the teacher's")
    m.add_argument("--finish-only", action="store_true", help="export and measure the work dir's checkpoint")
    m.add_argument("--init", metavar="MODEL",
                   help="start from a trained multi-style student (e.g. multi26) instead of the teacher and a stem "
                        "fit; norms it folded that --arch-arg body=live keeps live get the teacher's tables back")
    m.add_argument("--arch-arg", action="append", metavar="K=V",
                   help="multi-rt option: body=fold|live (each residual block's second norm), pad=zero|reflect "
                        "(the body's padding), stem=fold|live (the stem's first two norms), stemw=8..64 in steps of 8 (the stem's "
                        "1/2-resolution channels; with --init it may widen the model's stem)")
    m.add_argument("--label-share", type=A.float_in(0.01, 1.0), default=0.25, metavar="F",
                   help="after the first 4,000 teacher labels the labelling process works F of the time, leaving "
                        "the cores to training (default 0.25; 1 labels all along, which slowed training ~13x on "
                        "2 cores)")
    A.budget_args(m, "multi26", batch=4, lr=5e-4, threads_default=2)
    m.set_defaults(func=cmd_distill_multi, needs=("torch",))


def _perceptual_args(p) -> None:
    """Options of `train` and `train-paired` (feature network, crops, samples) and the training budget."""
    p.add_argument("--features", default="efficientnet-lite0",
                   help="feature network: efficientnet-lite0 (default), mobilenetv2, vgg16, vgg19")
    p.add_argument("--features-weights", type=Path, help="weights file for vgg16/vgg19 (torchvision .pth)")
    p.add_argument("--size", type=A.int_in(32, A.MAX_SIDE), default=256, help="training crop size in px (default 256)")
    p.add_argument("--sample-every", type=A.nonneg_int, default=200, metavar="N",
                   help="write a sample image every N steps")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    A.budget_args(p, batch=4, lr=1e-3)


def check_destination(args, *names: str) -> None:
    """Before any training: each output name is plain and free in --out-dir (or the user zoo) unless --force
    (or --resume: a resumed run continues the same model)."""
    from ..outputs import model_output
    for name in names or (args.output,):
        model_output(name, args.out_dir, force=args.force or args.resume)


def _layer_weights(items: Optional[List[str]], flag: str) -> Optional[Dict[str, float]]:
    """['block0', 'block4=5'] -> {'block0': 1.0, 'block4': 5.0}."""
    import math
    if not items:
        return None
    out = {}
    for it in items:
        for part in it.split(","):
            k, sep, v = part.partition("=")
            try:
                out[k.strip()] = float(v) if sep else 1.0
            except ValueError:
                raise UserError(f"{flag} takes NAME or NAME=WEIGHT, got {part!r}") from None
            if not math.isfinite(out[k.strip()]):
                raise UserError(f"{flag}: weights must be finite, got {part!r}")
    return out


def _style_image(path) -> None:
    if path and not Path(path).is_file():
        raise UserError(f"{path}: style image not found")


def _print(args, res: dict, text: str) -> int:
    print(json.dumps(res, indent=2, default=str) if args.json else text)
    return 0


def cmd_distill_multi(args):
    from ..train.multi import run
    if not args.minutes:
        raise UserError("distill-multi takes a time budget: --minutes M")
    check_destination(args)
    arch = A.arch_kwargs(args.arch_arg)
    res = run(args.output, args.workdir or Path("runs") / args.output, args.minutes, args.out_dir, args.lr,
              args.batch, args.stem_fit, args.threads or 2, args.resume, args.finish_only, arch=arch,
              init=args.init, label_share=args.label_share)
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
        _style_image(args.style_image)
        teacher = f"magenta:{args.style_image}"
    elif args.style_image:
        raise UserError("--style-image goes with --teacher magenta")
    if args.batch is None:
        args.batch = 8 if args.crop else 4
    if args.crop and args.crop < 32:
        raise UserError("--crop must be 0 (whole frames) or >= 32")
    if args.lr is None:  # the teacher-shaped nets fine-tune the teacher's weights
        args.lr = 1e-4 if args.init else 5e-4 if args.arch in ("ms26", "mg", "mg-rt") else 2e-3
    check_destination(args, *([args.output, args.output + "-int8"] if args.int8 else [args.output]))
    res = distill(teacher, args.output, arch=args.arch, arch_kwargs=A.arch_kwargs(args.arch_arg),
                  content=args.content, steps=args.steps, minutes=args.minutes, batch=args.batch, crop=args.crop,
                  lr=args.lr, seed=args.seed, workdir=args.workdir, resume=args.resume, out_dir=args.out_dir,
                  threads=args.threads, progress=not args.json, stability=args.stability, init=args.init,
                  labels=args.labels)
    if args.int8:
        from ..shrink.quantize import quantize
        # the card records the quantize command this step is (the distill command is its `training.command`)
        source = f"{args.out_dir}/{args.output}.onnx --out-dir {args.out_dir}" if args.out_dir else args.output
        same = f"framestyle quantize {source} --int8 -o {args.output}-int8 --force"
        res["int8"] = quantize(res["path"], "int8", args.output + "-int8", out_dir=args.out_dir, force=True,
                               command=same)
    f = res.get("fidelity") or {}
    text = (f"wrote {res['path']}: {res['steps']} steps in {res['minutes']} min; "
            f"held-out PSNR {f.get('psnr')} dB, SSIM {f.get('ssim')}")
    if args.int8:
        q = res["int8"]
        text += (f"\nwrote {q['path']} (int8): PSNR vs float {q['psnr_vs_source']} dB"
                 + (f", vs teacher {q['psnr_vs_teacher']} dB / SSIM {q['ssim_vs_teacher']}"
                    if "psnr_vs_teacher" in q else ""))
    return _print(args, res, text)


def _report(args, res: dict) -> int:
    val = res.get("val")
    extra = f"; validation PSNR {val['psnr']} dB, SSIM {val['ssim']}" if val else ""
    return _print(args, res, f"wrote {res['path']}: {res['steps']} steps in {res['minutes']} min{extra}")


def cmd_train(args) -> int:
    from ..train.perceptual import train_perceptual
    _style_image(args.style_image)
    check_destination(args)
    res = train_perceptual(
        args.style_image, args.output, arch=args.arch, arch_kwargs=A.arch_kwargs(args.arch_arg), content=args.content,
        features=args.features, style_layers=_layer_weights(args.layers, "--layers"),
        content_layers=_layer_weights(args.content_layers, "--content-layers"),
        features_weights=args.features_weights, content_weight=args.content_weight,
        style_weight=args.style_weight, tv_weight=args.tv_weight, style_kind=args.style_loss, size=args.size,
        style_size=args.style_size, batch=args.batch, steps=args.steps, minutes=args.minutes, lr=args.lr,
        seed=args.seed, workdir=args.workdir, resume=args.resume, out_dir=args.out_dir,
        sample_every=args.sample_every, threads=args.threads, device=args.device, progress=not args.json)
    return _report(args, res)


def cmd_train_paired(args) -> int:
    from ..train.paired import train_paired
    check_destination(args)
    res = train_paired(
        args.inputs, args.targets, args.output, arch=args.arch, arch_kwargs=A.arch_kwargs(args.arch_arg),
        val_fraction=args.val_fraction, size=args.size, batch=args.batch, epochs=args.epochs, steps=args.steps,
        minutes=args.minutes, lr=args.lr, features=args.features, perceptual_weight=args.perceptual_weight,
        features_weights=args.features_weights, seed=args.seed, workdir=args.workdir, resume=args.resume,
        out_dir=args.out_dir, sample_every=args.sample_every, threads=args.threads, device=args.device,
        progress=not args.json)
    return _report(args, res)


def cmd_train_arbitrary(args) -> int:
    from ..train.arbitrary import train_arbitrary
    check_destination(args)
    res = train_arbitrary(args.output, arch=args.arch, arch_kwargs=A.arch_kwargs(args.arch_arg), steps=args.steps,
                          minutes=args.minutes, batch=args.batch, crop=args.crop, lr=args.lr, seed=args.seed,
                          workdir=args.workdir, resume=args.resume, out_dir=args.out_dir,
                          pool_size=args.pool_size, train_crop=args.train_crop or None, threads=args.threads,
                          progress=not args.no_progress, init=args.init, label_share=args.label_share)
    fid = res["fidelity"]
    return _print(args, res, f"{res['path']}: {res['steps']} steps, {res['minutes']} min, held-out styles "
                  f"PSNR {fid['psnr']} dB SSIM {fid['ssim']} vs Magenta at {fid['size']} px")


def cmd_train_adain(args) -> int:
    from ..train.adain import train_adain
    check_destination(args)
    res = train_adain(args.output, steps=args.steps, minutes=args.minutes, batch=args.batch, crop=args.crop,
                      lr=args.lr, seed=args.seed, workdir=args.workdir, resume=args.resume, out_dir=args.out_dir,
                      threads=args.threads, style_weight=args.style_weight, recon_weight=args.recon_weight,
                      tv_weight=args.tv_weight, progress=not args.no_progress)
    return _print(args, res, f"{res['path']}: {res['steps']} steps, {res['minutes']} min, "
                  f"alpha=0 PSNR {res['alpha0_psnr']} dB")
