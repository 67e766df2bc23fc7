"""Image commands: stylize, sheet, models, info, bench."""
from __future__ import annotations

import glob
import json
import sys
import time
from pathlib import Path
from typing import List, Tuple

from ..errors import UserError
from ..imageio import IMAGE_EXTS


def add_parsers(sub):
    s = sub.add_parser("stylize", help="stylise images (files, folders, globs, or - for stdin)")
    s.add_argument("inputs", nargs="+", metavar="INPUT")
    s.add_argument("-o", "--output", required=True, help="output file, folder (for several inputs), or - for stdout")
    _style_args(s)
    s.add_argument("--max-size", type=int, help="scale the longer side down to this many pixels")
    s.add_argument("--tile", type=int, default=2048, help="process larger images in overlapping tiles of this size")
    s.add_argument("--format", choices=["png", "jpg", "webp"], default="png", help="format of outputs written to a folder")
    s.add_argument("--json", action="store_true", help="print one JSON record per input")
    s.set_defaults(func=cmd_stylize)

    c = sub.add_parser("sheet", help="one image in every style, labelled")
    c.add_argument("input")
    c.add_argument("-o", "--output", required=True)
    c.add_argument("--tile", type=int, default=256, help="tile size in pixels")
    c.add_argument("--models", help="comma-separated models (default: every built-in style, labelled with the "
                                    "name to pass)")
    c.add_argument("--threads", type=int)
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_sheet)

    m = sub.add_parser("models", help="list the models in the zoo, or add one")
    m.add_argument("action", nargs="?", choices=["list", "add", "remove"], default="list")
    m.add_argument("path", nargs="?", help="for add: an .onnx file; for remove: a user model name")
    m.add_argument("--name", help="for add: the name to register under")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_models)

    i = sub.add_parser("info", help="versions, threads, architectures, folders")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_info)

    b = sub.add_parser("bench", help="time every model and the peer, same method, same run")
    b.add_argument("--models", help="comma-separated (default: built-in students, multistyle26, the peer)")
    b.add_argument("--sizes", default="256x256,640x480,1280x720")
    b.add_argument("--threads", default="2", help="comma-separated thread counts, e.g. 1,2")
    b.add_argument("--runs", type=int, default=20)
    b.add_argument("--warmup", type=int, default=3)
    b.add_argument("--rounds", type=int, default=4,
                   help="split the runs over this many passes through all models (fair on a shared host)")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_bench)


def _style_args(p):
    p.add_argument("--model", help="model name or .onnx path (default: the catalogue's default, see "
                                   "`framestyle models`)")
    p.add_argument("--style", help="for multi-style models: index or blend, e.g. 7 or 3:0.5,12:0.5")
    p.add_argument("--style-image", help="for arbitrary-style models (magenta): any picture")
    p.add_argument("--strength", type=float, default=1.0, help="0..1, how much style to apply")
    p.add_argument("--preserve-color", action="store_true", help="keep the photo's colours")
    p.add_argument("--threads", type=int, help="ONNX Runtime threads")
    from ..runtime.arbitrary import add_method_args
    add_method_args(p)


def make_stylizer(args, **extra):
    from ..runtime.stylizer import Stylizer, check_strength
    from ..zoo import get_model
    check_strength(args.strength)
    from ..zoo import pick_model
    style_image = getattr(args, "style_image", None)
    info = get_model(pick_model(args.model, style_image, getattr(args, "method", None)))
    if style_image and info.kind != "arbitrary":
        raise UserError(f"model {info.name!r} has a fixed style; --style-image needs an arbitrary model "
                        "such as --model magenta")
    if style_image and not Path(style_image).exists():
        raise UserError(f"{style_image}: style image not found")
    return Stylizer(info, style=args.style, style_image=style_image, strength=args.strength,
                    preserve_color=args.preserve_color, threads=args.threads,
                    style_bank=getattr(args, "style_bank", None), alpha=getattr(args, "alpha", 1.0), **extra)


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


def _plan_outputs(inputs, many: bool, output: str, fmt: str) -> List[Path]:
    out = Path(output)
    if output == "-":
        if many:
            raise UserError("-o - (stdout) takes a single input")
        return [out]
    if not many and not (out.is_dir() or output.endswith(("/", "\\"))):
        return [out]
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: several inputs need an output folder, and this is a file")
    ext = {"jpg": ".jpg", "png": ".png", "webp": ".webp"}[fmt]
    dests, seen = [], set()
    for _, rel in inputs:
        d = out / rel.with_suffix(ext)
        n = 1
        while d in seen:
            d = out / rel.parent / f"{rel.name}-{n}{ext}"
            n += 1
        seen.add(d)
        dests.append(d)
    return dests


def cmd_stylize(args) -> int:
    from ..imageio import encode_image, format_for, load_image, same_file, save_image
    inputs, many = expand_inputs(args.inputs)
    if sum(1 for p, _ in inputs if str(p) == "-") and len(inputs) > 1:
        raise UserError("- (stdin) cannot be combined with other inputs")
    dests = _plan_outputs(inputs, many, args.output, args.format)
    for (src, _), dst in zip(inputs, dests):
        if str(src) != "-" and (same_file(src, dst) or src.resolve() == dst.resolve()):
            raise UserError(f"{dst}: output would overwrite its input")
    if args.output != "-" and not many:
        format_for(dests[0])
    if args.max_size is not None and args.max_size < 16:
        raise UserError("--max-size must be at least 16")
    st = make_stylizer(args, max_size=args.max_size, tile=args.tile)
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
                       ms=round((time.perf_counter() - t0) * 1000, 1))
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
    from ..imageio import save_image
    from ..runtime.sheet import make_sheet
    img, labels = make_sheet(args.input, args.models.split(",") if args.models else None, args.tile, args.threads)
    out = save_image(img, args.output)
    payload = {"output": str(out), "tiles": len(labels), "size": [img.shape[1], img.shape[0]], "labels": labels}
    print(json.dumps(payload) if args.json else f"wrote {out} ({len(labels)} tiles)")
    return 0


def cmd_models(args) -> int:
    from ..zoo import add_user_model, list_models
    from ..paths import user_models_dir
    if args.action == "add":
        if not args.path:
            raise UserError("models add needs an .onnx path")
        m = add_user_model(Path(args.path), args.name)
        print(json.dumps(m.to_json(), indent=2) if args.json else f"added {m.name} -> {m.path}")
        return 0
    if args.action == "remove":
        p = user_models_dir() / f"{args.path}.onnx"
        if not args.path or not p.exists():
            raise UserError(f"no user model named {args.path!r} (built-in models cannot be removed)")
        p.unlink()
        p.with_suffix(".json").unlink(missing_ok=True)
        print(f"removed {args.path}")
        return 0
    models = list_models()
    if args.json:
        print(json.dumps([m.to_json() for m in models], indent=2))
        return 0
    from ..zoo.listing import table
    print(table(models))
    return 0


def cmd_info(args) -> int:
    import onnxruntime as ort
    from .. import __version__
    from ..paths import home, user_models_dir
    from ..runtime.session import default_threads
    from ..zoo import default_model, list_models
    try:
        from ..nets import arch_names
        archs = arch_names()
    except ImportError:
        archs = "(install the train extra: pip install torch==2.13.0)"
    payload = {"version": __version__, "onnxruntime": ort.__version__, "threads": default_threads(),
               "default_model": default_model(), "home": str(home()),
               "user_models": str(user_models_dir()),
               "models": len(list_models()), "architectures": archs}
    print(json.dumps(payload, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in payload.items()))
    return 0


def cmd_bench(args) -> int:
    from ..metrics.speed import PEER_API, PEER_RAW, bench, parse_sizes
    from ..zoo import list_models
    sizes = parse_sizes(args.sizes)
    try:
        threads = [int(t) for t in args.threads.split(",")]
    except ValueError:
        raise UserError("--threads takes comma-separated integers, e.g. 1,2") from None
    if args.runs < 1 or args.rounds < 1:
        raise UserError("--runs and --rounds must be >= 1")
    if args.models:
        models = [m.strip() for m in args.models.split(",") if m.strip()]
    else:
        models = [m.name for m in list_models() if m.builtin and m.kind != "arbitrary"] + [PEER_RAW, PEER_API]

    def show(r):
        if not args.json:
            print(f"{r['model']:28s} {r['width']:5d}x{r['height']:<5d} t={r['threads']}  "
                  f"median {r['ms_median']:8.1f} ms  p90 {r['ms_p90']:8.1f} ms  {r['fps']:6.1f} FPS", flush=True)

    rows = bench(models, sizes, threads, args.runs, args.warmup, progress=show, rounds=args.rounds)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0
