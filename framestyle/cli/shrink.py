"""Shrink commands: `quantize` (int8 / fp16), `prune`, `binarize`; each writes a new model NAME."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import UserError
from . import args as A


def add_parsers(sub):
    q = sub.add_parser("quantize", help="int8 (static or dynamic) or fp16 copy of a model, into the user zoo")
    q.add_argument("model", help="zoo name or .onnx path")
    g = q.add_mutually_exclusive_group(required=True)
    g.add_argument("--int8", action="store_true", help="int8 QDQ, calibrated on real photos (per-channel weights)")
    g.add_argument("--fp16", action="store_true", help="float16 weights and compute, float32 input/output")
    q.add_argument("--dynamic", action="store_true", help="with --int8: dynamic quantisation (no calibration)")
    q.add_argument("--calib", type=Path, help="folder of calibration photos (default: offline sample photos)")
    q.add_argument("-o", "--output", required=True, type=A.model_name, help="name of the new model")
    q.add_argument("--out-dir", type=Path, help="write NAME.onnx + NAME.json here instead of the user zoo")
    q.add_argument("--force", action="store_true", help="replace an existing model of that name")
    q.add_argument("--json", action="store_true", help="print the result as JSON")
    q.set_defaults(func=cmd_quantize, needs=_quantize_needs)

    p = sub.add_parser("prune", help="remove internal channels of a fast student, fine-tune from the original")
    p.add_argument("model", help="zoo name or .onnx path of a framestyle student (fast family)")
    p.add_argument("--ratio", type=A.float_in(0.0, 1.0, lo_open=True, hi_open=True), required=True, help="fraction of body channels to remove, e.g. 0.5")
    _finetune_args(p, 300, "distillation fine-tune steps")
    p.set_defaults(func=cmd_prune, needs=("torch", "skimage"))

    b = sub.add_parser("binarize", help="binary-weight (sign x scale) student trained from the float one")
    b.add_argument("model", help="zoo name or .onnx path of a framestyle student")
    _finetune_args(b, 400, "straight-through fine-tune steps")
    b.set_defaults(func=cmd_binarize, needs=("torch", "skimage"))


def _finetune_args(p, steps: int, what: str) -> None:
    """prune/binarize: the fine-tune budget and the new model's name."""
    p.add_argument("--steps", type=A.nonneg_int, default=steps, help=f"{what} (default {steps})")
    p.add_argument("--lr", type=A.learning_rate, default=1e-3)
    p.add_argument("-o", "--output", required=True, type=A.model_name, help="name of the new model")
    p.add_argument("--force", action="store_true", help="replace an existing model of that name")
    p.add_argument("--json", action="store_true")


def _quantize_needs(args) -> list:
    # the fidelity report vs the teacher runs through framestyle.train (torch); default calibration photos: skimage
    return ["torch"] + (["onnxconverter_common"] if args.fp16 else ([] if args.calib else ["skimage"]))


def _print(res: dict, as_json: bool, line: str) -> int:
    print(json.dumps(res, indent=2, default=str) if as_json else line)
    return 0


def _kb(n) -> str:
    return f"{n / 1024:.1f} KB"


def cmd_quantize(args) -> int:
    from ..shrink.quantize import quantize
    if args.dynamic and not args.int8:
        raise UserError("--dynamic goes with --int8")
    if args.calib and (args.fp16 or args.dynamic):
        raise UserError("--calib is for static --int8 only")
    method = "fp16" if args.fp16 else ("int8-dynamic" if args.dynamic else "int8")
    res = quantize(args.model, method, args.output, calib_dir=args.calib, out_dir=args.out_dir,
                   force=args.force)
    vs_teacher = (f"; vs teacher {res['psnr_vs_teacher']} dB / SSIM {res['ssim_vs_teacher']}"
                  if "psnr_vs_teacher" in res else "")
    return _print(res, args.json, f"wrote {res['path']} ({method}): {_kb(res['size_bytes'])} "
                  f"(float {_kb(res['source_size_bytes'])}); PSNR vs float {res['psnr_vs_source']} dB "
                  f"on held-out photos{vs_teacher}")


def cmd_prune(args) -> int:
    from ..shrink.prune import prune
    res = prune(args.model, args.ratio, args.output, steps=args.steps, lr=args.lr, progress=not args.json,
                force=args.force)
    c0, c1 = res["channels"]
    return _print(res, args.json, f"wrote {res['path']}: channels {c0} -> {c1}, params {res['source_params']} -> "
                  f"{res['params']}, {_kb(res['size_bytes'])}; PSNR vs original {res['psnr_vs_source']} dB")


def cmd_binarize(args) -> int:
    from ..shrink.binarize import binarize
    res = binarize(args.model, args.output, steps=args.steps, lr=args.lr, progress=not args.json,
                   force=args.force)
    pk = res["packing"]
    return _print(res, args.json, f"wrote {res['path']}: {res['binary_layers']} binary conv layers (first/last "
                  f"float); packed size {_kb(pk['packed_bytes'])} vs float {_kb(pk['float32_bytes'])} "
                  f"(ONNX stores floats: {_kb(res['size_bytes'])}); PSNR vs float {res['psnr_vs_source']} dB")
