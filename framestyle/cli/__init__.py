"""`framestyle` command line: a thin layer over the API. Each command group lives in its own module."""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import List, Optional

from ..deps import PIP, require
from ..errors import UserError

# modules that define add_parsers(subparsers); each command sets args.func (and needs=, its optional packages)
# module -> its commands:
#   stylize (stylize, sheet)  models (models, info, bench)  video (video, live)  batch (batch)  style (style)
#   train (distill, train, train-paired, train-arbitrary, train-adain)  eval (eval fidelity|temporal)
#   shrink (quantize, prune, binarize)  export (export)  serve (serve)
GROUPS = ["stylize", "models", "video", "batch", "style", "train", "eval", "shrink", "export", "serve"]


class _Parser(argparse.ArgumentParser):
    """Usage errors as one `error:` line (exit 2); subparsers inherit this class."""

    def error(self, message):
        print(f"error: {self.prog}: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)



def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    p = _Parser(prog="framestyle", description="Real-time neural style transfer on a CPU.")
    p.add_argument("--version", action="version", version=f"framestyle {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for g in GROUPS:
        try:
            mod = importlib.import_module(f"{__name__}.{g}")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith(__name__):
                continue
            raise
        mod.add_parsers(sub)
    return p


def emit_json(obj) -> None:
    print(json.dumps(obj, indent=2, default=str))


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        parser.print_help()
        return 0
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse usage errors: keep exit code 2
        return int(exc.code or 0)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        needs = getattr(args, "needs", ())
        require(*(needs(args) if callable(needs) else needs), what=f"framestyle {args.command}")
        rc = args.func(args)
        return int(rc or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a disk, permission or path problem the command did not foresee: still one line
        if isinstance(exc, BrokenPipeError):
            return 1
        from ..outputs import os_error
        print(f"error: {os_error(exc)}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # an optional package the command's `needs` did not list
        top = (exc.name or "").split(".")[0]
        if top not in PIP:
            raise
        print(f"error: framestyle {args.command} needs {top}, which is not installed: {PIP[top]}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
