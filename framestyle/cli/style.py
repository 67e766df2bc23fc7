"""Style-vector commands (`style embed|blend|list`) and arbitrary-style training (`train-arbitrary`, `train-adain`)."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import UserError


def _arch_kwargs(items):
    from .train import _arch_kwargs as parse
    return parse(items)


def _train_common(p, name: str):
    p.add_argument("-o", "--output", default=name, help=f"name of the new model (default {name})")
    p.add_argument("--steps", type=int, help="number of optimiser steps")
    p.add_argument("--minutes", type=float, help="training time budget in minutes")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in the work dir")
    p.add_argument("--workdir", type=Path, help="checkpoints, logs, teacher pool (default runs/NAME)")
    p.add_argument("--out-dir", type=Path, help="where the .onnx and card go (default: the user zoo)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for PyTorch and ORT (default 1)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def add_parsers(sub):
    st = sub.add_parser("style", help="style vectors: embed pictures, blend, list a bank")
    ss = st.add_subparsers(dest="style_command", metavar="ACTION")
    e = ss.add_parser("embed", help="Magenta style vectors of pictures -> .npz style bank")
    e.add_argument("images", nargs="+", type=Path, help="style pictures (names = file stems)")
    e.add_argument("-o", "--output", type=Path, required=True, help="the .npz bank to write")
    e.add_argument("--append", action="store_true", help="add to an existing bank instead of refusing")
    e.add_argument("--threads", type=int)
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_embed)
    b = ss.add_parser("blend", help="weighted blend of styles in a bank -> a one-style bank")
    b.add_argument("bank", type=Path)
    b.add_argument("--weights", required=True, help="NAME:W,NAME:W (normalised to sum 1)")
    b.add_argument("-o", "--output", type=Path, required=True)
    b.add_argument("--name", help="name of the blended style (default: blend)")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_blend)
    ls = ss.add_parser("list", help="styles in a bank")
    ls.add_argument("bank", type=Path)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)
    st.set_defaults(func=lambda a: (st.print_help(), 0)[1])

    a = sub.add_parser("train-arbitrary", help="distil Magenta into a fast arbitrary-style student")
    a.add_argument("--arch", default="cond-fast")
    a.add_argument("--arch-arg", action="append", metavar="K=V")
    a.add_argument("--crop", type=int, default=160, help="side of the content crops Magenta labels (trained whole)")
    a.add_argument("--pool-size", type=int, default=3000, help="teacher triples kept in memory")
    a.add_argument("--train-crop", type=int, default=0,
                   help="random sub-crops of the pool crops for the first 80%% of training (cheaper steps, but "
                        "Magenta's norms saw the whole pool crop, so the targets are less exact); 0 = off")
    _train_common(a, "my-arbitrary")
    a.set_defaults(func=cmd_train_arbitrary)

    d = sub.add_parser("train-adain", help="train the multi-level AdaIN decoder on EfficientNet-Lite0 features")
    d.add_argument("--crop", type=int, default=192)
    d.add_argument("--style-weight", type=float, default=3.0)
    d.add_argument("--recon-weight", type=float, default=100.0, help="weight of the alpha=0 reconstruction L1")
    d.add_argument("--tv-weight", type=float, default=10.0, help="weight of the total-variation term (less noise)")
    _train_common(d, "adain-lite0")
    d.set_defaults(func=cmd_train_adain, lr=1e-3, batch=4)


def _print(args, obj, text: str) -> int:
    if getattr(args, "json", False):
        print(json.dumps(obj, indent=2, default=str))
    else:
        print(text)
    return 0


def cmd_embed(args) -> int:
    from ..zoo.styles import embed_images
    res = embed_images(args.images, args.output, threads=args.threads, append=args.append)
    lines = [f"{n}: {h[:12]}" for n, h in zip(res["names"], res["sha256"])]
    text = "\n".join(lines + [f"wrote {res['path']} ({len(res['names'])} styles, predictor runs: {res['predict_runs']})"])
    return _print(args, res, text)


def cmd_blend(args) -> int:
    from ..zoo.styles import blend_bank
    res = blend_bank(args.bank, args.weights, args.output, name=args.name or "blend")
    return _print(args, res, f"wrote {res['path']} ({res['name']} = "
                  + " + ".join(f"{w:.3f}*{n}" for n, w in res["weights"].items()) + ")")


def cmd_list(args) -> int:
    from ..zoo.styles import load_bank
    bank = load_bank(args.bank)
    rows = [{"name": n, "sha256": h, "norm": round(float((v ** 2).sum() ** 0.5), 3)}
            for n, h, v in zip(bank.names, bank.hashes, bank.vectors)]
    return _print(args, rows, "\n".join(f"{r['name']}\t{r['sha256'][:12]}\t|v|={r['norm']}" for r in rows))


def cmd_train_arbitrary(args) -> int:
    from ..train.arbitrary import train_arbitrary
    res = train_arbitrary(args.output, arch=args.arch, arch_kwargs=_arch_kwargs(args.arch_arg), steps=args.steps,
                          minutes=args.minutes, batch=args.batch, crop=args.crop, lr=args.lr, seed=args.seed,
                          workdir=args.workdir, resume=args.resume, out_dir=args.out_dir,
                          pool_size=args.pool_size, train_crop=args.train_crop or None, threads=args.threads,
                          progress=not args.no_progress)
    fid = res["fidelity"]
    return _print(args, res, f"{res['path']}: {res['steps']} steps, {res['minutes']} min, held-out styles "
                  f"PSNR {fid['psnr']} dB SSIM {fid['ssim']} vs Magenta at {fid['size']} px")


def cmd_train_adain(args) -> int:
    from ..train.adain import train_adain
    res = train_adain(args.output, steps=args.steps, minutes=args.minutes, batch=args.batch, crop=args.crop,
                      lr=args.lr, seed=args.seed, workdir=args.workdir, resume=args.resume, out_dir=args.out_dir,
                      threads=args.threads, style_weight=args.style_weight, recon_weight=args.recon_weight,
                      tv_weight=args.tv_weight, progress=not args.no_progress)
    return _print(args, res, f"{res['path']}: {res['steps']} steps, {res['minutes']} min, "
                  f"alpha=0 PSNR {res['alpha0_psnr']} dB")
