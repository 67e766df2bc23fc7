"""`eval fidelity` (PSNR/SSIM vs the teacher) and `eval temporal` (flicker: warping error)."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import UserError
from . import args as A


def add_parsers(sub):
    e = sub.add_parser("eval", help="evaluate a model: fidelity to its teacher, or flicker on video")
    esub = e.add_subparsers(dest="what", metavar="WHAT")
    f = esub.add_parser("fidelity", help="PSNR/SSIM of a student vs its teacher on held-out photos")
    f.add_argument("--model", required=True)
    f.add_argument("--teacher", help="override the card's teacher (multistyle26:N or magenta:STYLE_IMAGE)")
    f.add_argument("--images", nargs="+", help="images or folders (default: the held-out shared photos)")
    f.add_argument("--size", type=A.side, default=512, help="longer side in pixels")
    f.add_argument("--threads", type=A.threads)
    f.add_argument("--json", action="store_true")
    f.set_defaults(func=cmd_eval_fidelity, needs=("torch", "skimage"))

    t = esub.add_parser("temporal", help="flicker (warping error) of frame-by-frame vs stabilised")
    t.add_argument("--video", default="synthetic", help="a video file, or 'synthetic' (pan/zoom, exact flow)")
    t.add_argument("--model", help="zoo model name or .onnx path")
    t.add_argument("--style", help="style for multi-style models")
    t.add_argument("--frames", type=A.int_in(2, 100_000), default=30)
    t.add_argument("--max-size", type=A.side, default=640)
    t.add_argument("--stabilize", type=A.float_in(0.0, 1.0, hi_open=True), default=0.6, help="stabiliser strength")
    t.add_argument("--smooth", type=A.float_in(0.0, 1.0, hi_open=True), default=0.5,
                   help="weight of the averaging baseline")
    t.add_argument("--teacher", help="teacher for the PSNR columns: multistyle26:N | magenta:IMG | none "
                                     "(default: the model card's teacher; it is slow, so keep --frames small)")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_eval_temporal)
    e.set_defaults(func=lambda a: (e.print_help(), 2)[1])


def cmd_eval_fidelity(args):
    from ..imageio import IMAGE_EXTS
    from ..train.distill import measure_fidelity
    from ..zoo.teachers import Teacher, card_spec
    info = A.checked_model(args.model)
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
    from ..runtime.stylizer import Stylizer
    res = measure_fidelity(Stylizer(info, threads=args.threads), Teacher(spec, threads=args.threads), images,
                           size=args.size)  # the model as named (ember: multi26 at style 5)
    res.update(model=info.name, teacher=spec)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        for r in res["per_image"]:
            print(f"{r['image']:24s} PSNR {r['psnr']:6.2f} dB  SSIM {r['ssim']:.4f}")
        print(f"{'mean':24s} PSNR {res['psnr']:6.2f} dB  SSIM {res['ssim']:.4f}  ({info.name} vs {spec})")
    return 0


def cmd_eval_temporal(args) -> int:
    from ..metrics.temporal import evaluate_temporal
    if args.video != "synthetic" and not Path(args.video).exists():
        raise UserError(f"{args.video}: file not found")
    A.checked_model(args.model)
    res = evaluate_temporal(args.video, args.model, frames=args.frames, style=args.style, max_size=args.max_size,
                            strength=args.stabilize, smooth=args.smooth, teacher=args.teacher)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"{res['video']} ({res['frames']} frames {res['size'][0]}x{res['size'][1]}, model {res['model']}, "
          f"teacher {res['teacher'] or 'none'})")
    cuts = res["cut_pairs"]
    for name, row in res["results"].items():
        extra = "".join(f"  {k} {v}" for k, v in row.items() if k.startswith("psnr"))
        within = f", within shots {row['vs_frame_by_frame_within_shots']}x" if cuts else ""
        print(f"  {name:16s} warping error {row['warping_error']:.5f} ({row['vs_frame_by_frame']}x{within}){extra}")
    if cuts:
        print(f"  scene cuts between frames {', '.join(f'{i}-{i + 1}' for i in cuts)} (left out of 'within shots')")
    if res["ghosting_db"] is not None:
        print(f"  ghosting (PSNR vs teacher, frame by frame - stabilised): {res['ghosting_db']:+.2f} dB")
    eq = res["averaged_at_equal_error"]
    if eq is None:
        print("  averaging cannot get as steady as the stabiliser (smooth <= 0.95)")
    else:
        extra = "".join(f"  {k} {v}" for k, v in eq.items() if k.startswith("psnr"))
        print(f"  averaging as steady as the stabiliser: smooth {eq['smooth']}{extra}")
    return 0
