"""Style-vector commands: `style embed|blend|list` (banks of Magenta style vectors, .npz)."""
from __future__ import annotations

import json
from pathlib import Path

from . import args as A


def add_parsers(sub):
    st = sub.add_parser("style", help="style vectors: embed pictures, blend, list a bank")
    ss = st.add_subparsers(dest="style_command", metavar="ACTION")
    e = ss.add_parser("embed", help="Magenta style vectors of pictures -> .npz style bank")
    e.add_argument("images", nargs="+", type=Path, help="style pictures (names = file stems)")
    e.add_argument("-o", "--output", type=Path, required=True, help="the .npz bank to write")
    e.add_argument("--append", action="store_true", help="add to an existing bank instead of refusing")
    e.add_argument("--threads", type=A.threads)
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_embed)
    b = ss.add_parser("blend", help="weighted blend of styles in a bank -> a one-style bank")
    b.add_argument("bank", type=Path)
    b.add_argument("--weights", required=True, help="NAME:W,NAME:W (normalised to sum 1)")
    b.add_argument("-o", "--output", type=Path, required=True)
    b.add_argument("--name", type=A.model_name, help="name of the blended style (default: blend)")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_blend)
    ls = ss.add_parser("list", help="styles in a bank")
    ls.add_argument("bank", type=Path)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)
    st.set_defaults(func=lambda a: (st.print_help(), 0)[1])


def _print(args, obj, text: str) -> int:
    if getattr(args, "json", False):
        print(json.dumps(obj, indent=2, default=str))
    else:
        print(text)
    return 0


def cmd_embed(args) -> int:
    from ..outputs import check_output
    from ..zoo.styles import embed_images
    check_output(args.output, args.images, replace=args.append, hint="pass --append to add to it")
    res = embed_images(args.images, args.output, threads=args.threads, append=args.append)
    lines = [f"{n}: {h[:12]}" for n, h in zip(res["names"], res["sha256"])]
    text = "\n".join(lines + [f"wrote {res['path']} ({len(res['names'])} styles, predictor runs: {res['predict_runs']})"])
    return _print(args, res, text)


def cmd_blend(args) -> int:
    from ..outputs import check_output
    from ..zoo.styles import blend_bank
    check_output(args.output, [args.bank])
    res = blend_bank(args.bank, args.weights, args.output, name=args.name or "blend")
    return _print(args, res, f"wrote {res['path']} ({res['name']} = "
                  + " + ".join(f"{w:.3f}*{n}" for n, w in res["weights"].items()) + ")")


def cmd_list(args) -> int:
    from ..zoo.styles import load_bank
    bank = load_bank(args.bank)
    rows = [{"name": n, "sha256": h, "norm": round(float((v ** 2).sum() ** 0.5), 3)}
            for n, h, v in zip(bank.names, bank.hashes, bank.vectors)]
    return _print(args, rows, "\n".join(f"{r['name']}\t{r['sha256'][:12]}\t|v|={r['norm']}" for r in rows))
