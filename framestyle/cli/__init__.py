"""`framestyle` command line: a thin layer over the API. Each command group lives in its own module."""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import List, Optional

from ..errors import UserError

# modules that define add_parsers(subparsers); each command sets args.func
GROUPS = ["image", "train", "train_more", "video", "shrink", "web", "batch", "style"]


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
        rc = args.func(args)
        return int(rc or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
