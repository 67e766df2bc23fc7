"""`stylize` (images, folders, globs, stdin) and `sheet` (one image in every style)."""
from __future__ import annotations

import glob
import json
import sys
import time
from pathlib import Path
from typing import List, Tuple

from ..errors import UserError
from ..imageio import IMAGE_EXTS
from . import args as A


def add_parsers(sub):
    s = sub.add_parser("stylize", help="stylise images (files, folders, globs, or - for stdin)")
    s.add_argument("inputs", nargs="+", metavar="INPUT")
    s.add_argument("-o", "--output", required=True,
                   help="output file; for several inputs an existing folder or a new folder name without an "
                        "image suffix; - for stdout")
    A.model_args(s, "photo")
    s.add_argument("--max-size", type=A.side, help="scale the longer side down to this many pixels")
    s.add_argument("--tile", type=A.int_in(64, A.MAX_SIDE), default=2048,
                   help="process larger images in overlapping tiles of this size")
    s.add_argument("--format", choices=["png", "jpg", "webp"], default="png", help="format of outputs written to a folder")
    s.add_argument("--json", action="store_true", help="print one JSON record per input (ms excludes model loading, "
                                                       "reported as load_ms)")
    s.set_defaults(func=cmd_stylize)

    c = sub.add_parser("sheet", help="one image in every style, labelled")
    c.add_argument("input")
    c.add_argument("-o", "--output", required=True)
    c.add_argument("--tile", type=A.side, default=256, help="tile size in pixels")
    c.add_argument("--models", help="comma-separated models (default: every built-in style, labelled with the name to pass)")
    c.add_argument("--threads", type=A.threads)
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_sheet)


def expand_inputs(items: List[str]) -> Tuple[List[Tuple[Path, Path]], bool]:
    """-> [(file, relative output stem path)], many?  Folders are walked, globs expanded."""
    out, many = [], len(items) > 1
    for it in items:
        p = Path(it)
        if it == "-":
            out.append((Path("-"), Path("stdin")))
        elif p.is_dir():
            many = True
            files = sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in IMAGE_EXTS)
            if not files:
                raise UserError(f"{p}: no images found in this folder")
            out += [(q, q.relative_to(p).with_suffix("")) for q in files]
        elif p.exists():
            out.append((p, Path(p.stem)))
        elif any(ch in it for ch in "*?["):
            many = True
            hits = sorted(Path(h) for h in glob.glob(it, recursive=True) if Path(h).is_file())
            if not hits:
                raise UserError(f"{it}: no files match")
            out += [(h, Path(h.stem)) for h in hits]
        else:
            raise UserError(f"{it}: file not found")
    return out, many


def plan_outputs(inputs, many: bool, output: str, fmt: str) -> List[Path]:
    """One output per input; several inputs need an existing folder or a new name without an image suffix."""
    out = Path(output)
    if output == "-":
        if many:
            raise UserError("-o - (stdout) takes a single input")
        return [out]
    if not many and not (out.is_dir() or output.endswith(("/", "\\"))):
        return [out]
    if out.exists() and not out.is_dir():
        raise UserError(f"-o {out}: several inputs need an output folder, and this is a file")
    if not out.exists() and out.suffix.lower() in IMAGE_EXTS:
        raise UserError(f"-o {out}: several inputs need an output folder; give an existing folder or a name "
                        f"without an image suffix")
    ext = {"jpg": ".jpg", "png": ".png", "webp": ".webp"}[fmt]
    dests, seen = [], set()
    for _, rel in inputs:
        d = out / rel.with_suffix(ext)
        n = 1
        while str(d).casefold() in seen:
            d = out / rel.parent / f"{rel.name}-{n}{ext}"
            n += 1
        seen.add(str(d).casefold())
        dests.append(d)
    return dests


def cmd_stylize(args) -> int:
    from ..imageio import encode_image, format_for, load_image, save_image
    from ..outputs import check_outputs
    inputs, many = expand_inputs(args.inputs)
    if sum(1 for p, _ in inputs if str(p) == "-") and len(inputs) > 1:
        raise UserError("- (stdin) cannot be combined with other inputs")
    dests = plan_outputs(inputs, many, args.output, args.format)
    if args.output != "-":
        check_outputs(dests, [p for p, _ in inputs])
        if not many:
            format_for(dests[0])
    t_load = time.perf_counter()  # the model opens here: per-image times exclude start-up
    st = A.make_stylizer(args, max_size=args.max_size, tile=args.tile)
    load_ms = round((time.perf_counter() - t_load) * 1000, 1)
    records, failed = [], 0
    from tqdm import tqdm
    bar = tqdm(total=len(inputs), unit="img", disable=not many, file=sys.stderr, desc="stylize")
    for (src, _), dst in zip(inputs, dests):
        t0 = time.perf_counter()
        rec = {"input": str(src), "output": None, "model": st.info.name}
        try:
            img = load_image(sys.stdin.buffer.read(), "stdin") if str(src) == "-" else load_image(src)
            out = st.stylize(img)
            if args.output == "-":
                sys.stdout.buffer.write(encode_image(out, "PNG"))
                sys.stdout.buffer.flush()
                rec["output"] = "-"
            else:
                save_image(out, dst)
                rec["output"] = str(dst)
            rec.update(ok=True, width=int(out.shape[1]), height=int(out.shape[0]),
                       ms=round((time.perf_counter() - t0) * 1000, 1), load_ms=load_ms)
        except UserError as exc:
            if not many:
                raise
            failed += 1
            rec.update(ok=False, error=str(exc))
            tqdm.write(f"error: {exc}", file=sys.stderr)
        records.append(rec)
        bar.update(1)
    bar.close()
    if args.json and args.output != "-":
        print(json.dumps(records if many else records[0], indent=2))
    elif args.output != "-":
        for r in records:
            if r["ok"]:
                print(f"{r['input']} -> {r['output']} ({r['width']}x{r['height']}, {r['ms']} ms, {r['model']})")
    if failed:
        print(f"error: {failed} of {len(inputs)} inputs failed", file=sys.stderr)
        return 2
    return 0


def cmd_sheet(args) -> int:
    from ..imageio import format_for, save_image
    from ..outputs import check_output
    from ..runtime.sheet import make_sheet
    check_output(args.output, [args.input])
    format_for(Path(args.output))
    names = [n.strip() for n in args.models.split(",") if n.strip()] if args.models else None
    sheet, labels = make_sheet(args.input, names, args.tile, args.threads)
    out = save_image(sheet, args.output)
    payload = {"output": str(out), "tiles": len(labels), "size": [sheet.shape[1], sheet.shape[0]], "labels": labels}
    print(json.dumps(payload) if args.json else f"wrote {out} ({len(labels)} tiles)")
    return 0
