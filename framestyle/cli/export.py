"""`framestyle export`: a student to ONNX, TFLite or Core ML (optionally YUV camera input)."""
from __future__ import annotations

import json
from pathlib import Path

from . import args as A

EXTRA_NEEDS = {"tflite": ["litert_torch", "ai_edge_litert"], "coreml": ["coremltools"]}


def add_parsers(sub):
    e = sub.add_parser("export", help="export a student to ONNX, TFLite or Core ML (optionally YUV input)")
    e.add_argument("model", help="zoo name or .onnx path of a framestyle student")
    e.add_argument("--to", choices=["onnx", "tflite", "coreml"], default="onnx")
    e.add_argument("--input-format", choices=["rgb", "nv12", "i420"], default="rgb",
                   help="rgb float [1,3,H,W]; nv12/i420: one uint8 buffer [H*3/2, W] straight from a camera")
    e.add_argument("--range", choices=["video", "full"], default="video", help="YUV range (BT.601)")
    e.add_argument("--size", type=A.size_hw, help="fixed input size HxW (required for tflite and coreml)")
    e.add_argument("--opset", type=A.int_in(7, 21), default=18, help="ONNX opset (default 18)")
    e.add_argument("--nhwc", action="store_true", help="channels-last I/O: [1,H,W,3]")
    e.add_argument("-o", "--output", required=True, type=Path, help="output file (.onnx, .tflite, .mlpackage)")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_export, needs=lambda a: ["torch", "skimage"] + EXTRA_NEEDS.get(a.to, []))


def _kb(n) -> str:
    return f"{n / 1024:.1f} KB"


def cmd_export(args) -> int:
    from ..export.convert import export_model
    res = export_model(args.model, args.to, args.output, input_format=args.input_format, rng=args.range,
                       size=args.size, opset=args.opset, nhwc=args.nhwc)
    diff = res.get("max_abs_vs_ort")
    check = f"max abs diff vs ORT {diff:.2e}" if diff is not None else res["coreml"]["predict"]
    line = f"wrote {res['path']} ({args.to}, {res['layout']}; {_kb(res['size_bytes'])}); {check}"
    print(json.dumps(res, indent=2, default=str) if args.json else line)
    return 0
