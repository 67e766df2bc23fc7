"""Name -> constructor table for architectures."""
from __future__ import annotations

from typing import Callable, Dict

import torch.nn as nn

ARCHS: Dict[str, Callable[..., nn.Module]] = {}


def register(name: str):
    def deco(fn):
        ARCHS[name] = fn
        return fn
    return deco


def arch_names():
    return sorted(ARCHS)


def build(name: str, **kwargs) -> nn.Module:
    from ..errors import UserError
    if name not in ARCHS:
        raise UserError(f"unknown architecture {name!r}; choose one of: {', '.join(arch_names())}")
    try:
        net = ARCHS[name](**kwargs)
    except (TypeError, ValueError) as exc:  # a bad --arch-arg: say so instead of a traceback
        raise UserError(f"architecture {name}: {exc}") from None
    net.arch_name = name
    net.arch_kwargs = dict(kwargs)
    return net
