"""Student and generator architectures, registered by name.

Every net maps a [N,3,H,W] RGB tensor in 0..1 to a stylised tensor of the same shape.
"""
from .registry import ARCHS, build, register, arch_names  # noqa: F401
from . import arm, fast, johnson, encdec, conditional, ladder, ms26, mgnet, multi  # noqa: F401  (registers the archs)
