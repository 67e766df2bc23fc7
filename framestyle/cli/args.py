"""The CLI's argument helpers: argparse types that validate numbers at the parser, and the option groups that
several commands share (model options, training budget, architecture options)."""
from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

from ..imageio import MAX_PIXELS, MIN_SIDE
from ..outputs import plain_name

MAX_SIDE = int(math.isqrt(MAX_PIXELS))  # a square image at the pixel limit


def _fail(msg: str):
    raise argparse.ArgumentTypeError(msg)


def int_in(lo: int, hi: int | None = None):
    """An integer in [lo, hi]."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            _fail(f"expected an integer, got {text!r}")
        if v < lo or (hi is not None and v > hi):
            _fail(f"must be {'at least ' + str(lo) if hi is None else f'between {lo} and {hi}'}, got {v}")
        return v
    parse.__name__ = "integer"
    return parse


def float_in(lo: float | None = None, hi: float | None = None, lo_open: bool = False, hi_open: bool = False):
    """A finite number in the range (open or closed at each end)."""
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            _fail(f"expected a number, got {text!r}")
        if not math.isfinite(v):
            _fail(f"must be a finite number, got {text!r}")
        low_bad = lo is not None and (v <= lo if lo_open else v < lo)
        high_bad = hi is not None and (v >= hi if hi_open else v > hi)
        if low_bad or high_bad:
            left = "(" if lo_open else "["
            right = ")" if hi_open else "]"
            _fail(f"must be in {left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}, got {v}")
        return v
    parse.__name__ = "number"
    return parse


positive_int = int_in(1)
nonneg_int = int_in(0)
threads = int_in(1, 256)
positive_float = float_in(0, lo_open=True)
finite_float = float_in()
unit_float = float_in(0.0, 1.0)                 # --strength
side = int_in(MIN_SIDE, MAX_SIDE)               # a side length in pixels (--max-size, --tile, --size N)
learning_rate = float_in(0.0, 1.0, lo_open=True)


def size_hw(text: str) -> tuple:
    """HxW (e.g. 480x640), each side >= MIN_SIDE, within the image pixel limit."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text or "")
    if not m:
        _fail(f"takes HxW, e.g. 480x640, got {text!r}")
    h, w = int(m.group(1)), int(m.group(2))
    if min(h, w) < MIN_SIDE or h * w > MAX_PIXELS:
        _fail(f"{h}x{w}: each side must be >= {MIN_SIDE} and the image at most {MAX_PIXELS // 1_000_000} MP")
    return h, w


def model_name(text: str) -> str:
    """A new model's name: a plain file name (it becomes NAME.onnx in its folder)."""
    from ..errors import UserError
    try:
        return plain_name(text, "name")
    except UserError as exc:
        _fail(str(exc))


def arch_kwargs(items) -> dict:
    """--arch-arg K=V ... -> {K: int | float | str}."""
    from ..errors import UserError
    out = {}
    for it in items or []:
        k, sep, v = it.partition("=")
        if not sep or not k:
            raise UserError(f"--arch-arg takes KEY=VALUE, got {it!r}")
        for cast in (int, float):
            try:
                out[k] = cast(v)
                break
            except ValueError:
                continue
        else:
            out[k] = v
    return out


def model_args(p, what: str = "input") -> None:
    """The options that pick a model and its style (stylize, video, live)."""
    p.add_argument("--model", help="model name or .onnx path (default: the zoo's default model)")
    p.add_argument("--style", help="for multi-style models: index or blend, e.g. 7 or 3:0.5,12:0.5")
    p.add_argument("--style-image", help="for arbitrary-style models (magenta): any picture")
    p.add_argument("--strength", type=unit_float, default=1.0, help="0..1, how much style to apply")
    p.add_argument("--preserve-color", action="store_true", help=f"keep the {what}'s colours")
    p.add_argument("--threads", type=threads, help="ONNX Runtime threads")
    from ..runtime.arbitrary import METHODS
    p.add_argument("--method", choices=METHODS,
                   help="arbitrary-style engine for --style-image / --style-bank: magenta (teacher, slow), "
                        "student (distilled, real time) or adain")
    p.add_argument("--style-bank", help="a .npz from `framestyle style embed`; pick a style with --style NAME "
                                        "(or a blend NAME:0.5,NAME:0.5)")
    p.add_argument("--alpha", type=unit_float, default=1.0, help="AdaIN only: 0 = photo, 1 = full style")


def budget_args(p, name: str | None = None, batch: int | None = None, lr: float | None = None,
                lr_help: str = "learning rate", threads_default: int | None = None) -> None:
    """A training command's output name, budget, checkpoints and output folder."""
    if name is None:
        p.add_argument("-o", "--output", required=True, type=model_name, help="name of the new model")
    else:
        p.add_argument("-o", "--output", default=name, type=model_name,
                       help=f"name of the new model (default {name})")
    p.add_argument("--steps", type=positive_int, help="number of optimiser steps")
    p.add_argument("--minutes", type=positive_float, help="training time budget in minutes")
    p.add_argument("--batch", type=positive_int, default=batch, help="images per step")
    p.add_argument("--lr", type=learning_rate, default=lr, help=lr_help)
    p.add_argument("--seed", type=nonneg_int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in the work dir")
    p.add_argument("--workdir", type=Path, help="checkpoints and logs (default runs/NAME)")
    p.add_argument("--out-dir", type=Path, help="where the .onnx and card go (default: the user zoo)")
    p.add_argument("--force", action="store_true", help="replace an existing model of that name")
    p.add_argument("--threads", type=threads, default=threads_default, help="CPU threads for PyTorch and ORT")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def arch_args(p, default: str) -> None:
    p.add_argument("--arch", default=default, help=f"student architecture (default {default}; see `framestyle info`)")
    p.add_argument("--arch-arg", action="append", metavar="K=V", help="architecture option, e.g. alpha=1.34")


def make_stylizer(args, **extra):
    """The Stylizer the model options ask for (stylize, video, live): a style image or a style bank with no
    model named picks an arbitrary-style model."""
    from ..errors import UserError
    from ..runtime.stylizer import Stylizer
    from ..zoo import get_model, pick_model
    method, model = getattr(args, "method", None), args.model
    style_image, bank = getattr(args, "style_image", None), getattr(args, "style_bank", None)
    if style_image and not Path(style_image).is_file():
        raise UserError(f"{style_image}: style image not found")
    if bank is not None:
        from ..zoo.styles import load_bank
        load_bank(bank)  # a missing or corrupt bank is one error, whatever the model
    if model is None and method is None and bank and not style_image:
        method = "student"  # a style bank with no model named: the real-time any-painting student
    info = get_model(pick_model(model, style_image, method))
    if style_image and info.kind != "arbitrary":
        raise UserError(f"model {info.name!r} has a fixed style; --style-image needs an arbitrary model "
                        "such as --model magenta")
    st = Stylizer(info, style=args.style, style_image=style_image, strength=args.strength,
                  preserve_color=args.preserve_color, threads=args.threads, style_bank=bank,
                  alpha=getattr(args, "alpha", 1.0), **extra)
    st.session  # noqa: B018 -- open and check the model now: a bad file is one error before any work
    return st


def checked_model(name):
    """The zoo model (or .onnx path) `name`, its file checked as a style model before any work."""
    from ..runtime.session import check_onnx
    from ..zoo import get_model
    info = get_model(name)
    if info.kind != "arbitrary":  # arbitrary-style models are checked by their backend when it opens
        check_onnx(info.path)
    return info
