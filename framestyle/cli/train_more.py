"""Training commands without a teacher: `train` (from a painting, perceptual loss) and `train-paired`.

Until this module is listed in cli GROUPS, run it as `python -m framestyle.cli.train_more train ...`.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional

from ..errors import UserError


def _arch_kwargs(items) -> dict:
    out = {}
    for it in items or []:
        k, sep, v = it.partition("=")
        if not sep or not k:
            raise UserError(f"--arch-arg takes KEY=VALUE, got {it!r}")
        for cast in (int, float):
            try:
                out[k] = cast(v)
                break
            except ValueError:
                continue
        else:
            out[k] = v
    return out


def _layer_weights(items: Optional[List[str]], flag: str) -> Optional[Dict[str, float]]:
    """['block0', 'block4=5'] -> {'block0': 1.0, 'block4': 5.0}."""
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
    return out


def _common(p) -> None:
    p.add_argument("--arch-arg", action="append", metavar="K=V", help="architecture option, e.g. alpha=1.34")
    p.add_argument("--features", default="efficientnet-lite0",
                   help="feature network: efficientnet-lite0 (default), mobilenetv2, vgg16, vgg19")
    p.add_argument("--features-weights", type=Path, help="weights file for vgg16/vgg19 (torchvision .pth)")
    p.add_argument("--size", type=int, default=256, help="training crop size in px (default 256)")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--steps", type=int, help="number of optimiser steps")
    p.add_argument("--minutes", type=float, help="training time budget in minutes")
    p.add_argument("--sample-every", type=int, default=200, metavar="N", help="write a sample image every N steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in the work dir")
    p.add_argument("--workdir", type=Path, help="checkpoints, logs and samples (default runs/NAME)")
    p.add_argument("--out-dir", type=Path, help="where the .onnx and card go (default: the user zoo)")
    p.add_argument("--threads", type=int, help="CPU threads for PyTorch")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p.add_argument("-o", "--output", required=True, help="name of the new model")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def add_parsers(sub) -> None:
    t = sub.add_parser("train", help="train a real-time style from a painting (perceptual loss, no teacher)")
    t.add_argument("--style-image", required=True, help="the painting")
    t.add_argument("--content", nargs="+", help="folders, images, videos or globs (default: offline photos+clips)")
    t.add_argument("--arch", default="fast", help="student architecture (default fast)")
    t.add_argument("--layers", nargs="+", metavar="NAME[=W]", help="style layers with optional weights")
    t.add_argument("--content-layers", nargs="+", metavar="NAME[=W]", help="content layers with optional weights")
    t.add_argument("--content-weight", type=float, help="default 1")
    t.add_argument("--style-weight", type=float, help="default 100")
    t.add_argument("--tv-weight", type=float, help="default 1")
    t.add_argument("--style-loss", default="gram", choices=["gram", "meanstd"])
    t.add_argument("--style-size", type=int, default=512, help="longer side of the painting in px (default 512)")
    _common(t)
    t.set_defaults(func=cmd_train)

    p = sub.add_parser("train-paired", help="train image-to-image from inputs/ and targets/ with matching names")
    p.add_argument("--inputs", required=True, type=Path)
    p.add_argument("--targets", required=True, type=Path)
    p.add_argument("--arch", default="unet-small", help="architecture (default unet-small)")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--epochs", type=int, help="passes over the training pairs")
    p.add_argument("--perceptual-weight", type=float, default=0.002, help="weight of the feature MSE (0 = pixel L1 only)")
    _common(p)
    p.set_defaults(func=cmd_train_paired)


def _check(args) -> None:
    if args.size < 32 or args.batch < 1:
        raise UserError("--size must be >= 32 and --batch >= 1")
    if args.sample_every is not None and args.sample_every < 0:
        raise UserError("--sample-every must be >= 0")


def _report(args, res: dict) -> int:
    if args.json:
        print(json.dumps(res, indent=2, default=str))
    elif "path" in res:
        val = res.get("val")
        extra = f"; validation PSNR {val['psnr']} dB, SSIM {val['ssim']}" if val else ""
        print(f"wrote {res['path']}: {res['steps']} steps in {res['minutes']} min{extra}")
    return 0


def cmd_train(args) -> int:
    from ..train.perceptual import train_perceptual
    _check(args)
    if not Path(args.style_image).exists():
        raise UserError(f"{args.style_image}: style image not found")
    res = train_perceptual(
        args.style_image, args.output, arch=args.arch, arch_kwargs=_arch_kwargs(args.arch_arg), content=args.content,
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
    _check(args)
    res = train_paired(
        args.inputs, args.targets, args.output, arch=args.arch, arch_kwargs=_arch_kwargs(args.arch_arg),
        val_fraction=args.val_fraction, size=args.size, batch=args.batch, epochs=args.epochs, steps=args.steps,
        minutes=args.minutes, lr=args.lr, features=args.features, perceptual_weight=args.perceptual_weight,
        features_weights=args.features_weights, seed=args.seed, workdir=args.workdir, resume=args.resume,
        out_dir=args.out_dir, sample_every=args.sample_every, threads=args.threads, device=args.device,
        progress=not args.json)
    return _report(args, res)


def main(argv: Optional[List[str]] = None) -> int:
    """Standalone entry (same handling as `framestyle`): python -m framestyle.cli.train_more train ..."""
    p = argparse.ArgumentParser(prog="framestyle")
    add_parsers(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
