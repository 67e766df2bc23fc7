"""`framestyle batch`: stylise a whole folder (or glob) into a mirrored output tree, resumably."""
from __future__ import annotations

import sys

from ..errors import UserError
from . import args as A


def add_parsers(sub) -> None:
    p = sub.add_parser("batch", help="stylise a folder of images (and videos) into a mirrored tree; resumable",
                       description="Stylise every image under INPUT (a folder, scanned recursively, or a quoted "
                                   "glob) into OUT_DIR with the same tree. Re-running resumes: finished outputs "
                                   "are verified by checksum and skipped. Exit code 1 when any input failed.")
    p.add_argument("input", metavar="INPUT_DIR_OR_GLOB")
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="output folder (outside the input)")
    p.add_argument("--model", help="zoo name or .onnx path (default: the catalogue's default, see `framestyle models`)")
    p.add_argument("--style", help="style for multi-style models: an index or a blend like 3:0.5,12:0.5")
    p.add_argument("--style-image", metavar="IMG", help="style picture for arbitrary-style models (magenta)")
    p.add_argument("--strength", type=A.unit_float, default=1.0, help="0..1 blend toward the photo (default 1)")
    p.add_argument("--preserve-color", action="store_true", help="keep the photo's colours")
    p.add_argument("--max-size", type=A.side, metavar="N", help="shrink inputs so the longer side is at most N px")
    p.add_argument("--workers", type=A.int_in(1, 256), metavar="N", help="parallel workers (default: one per CPU core); "
                   "ONNX Runtime threads per worker = cores // workers")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local process pool (default) or Ray (pip install \"ray[data]==2.60.0\")")
    p.add_argument("--address", help="with --engine ray: join this Ray cluster (default: start a local Ray)")
    p.add_argument("--videos", action="store_true", help="also stylise video files (whole videos, to .mp4)")
    p.add_argument("--format", choices=["png", "jpg", "same"], default="png",
                   help="output image format (default png; 'same' keeps each input's format)")
    p.add_argument("--retry-failed", action="store_true", help="retry inputs that failed in an earlier run")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_batch, needs=lambda a: ["ray"] if a.engine == "ray" else [])


def cmd_batch(args) -> int:
    from ..batch import BatchOptions, run_batch, summary_table
    from . import emit_json
    if args.style_image and args.style:
        raise UserError("give either --style or --style-image, not both")
    from ..outputs import check_output
    check_output(args.output, folder_ok=True)  # a writable place (the inside-the-input check is batch's own)
    opts = BatchOptions(model=args.model, style=args.style, style_image=args.style_image, strength=args.strength,
                        preserve_color=args.preserve_color, max_size=args.max_size, format=args.format)
    res = run_batch(args.input, args.output, opts, workers=args.workers, engine=args.engine,
                    address=args.address, videos=args.videos, retry_failed=args.retry_failed,
                    progress=not args.json)
    if args.json:
        emit_json(res.to_json())
    else:
        print(summary_table(res), file=sys.stdout)
    return 0 if res.ok else 1
