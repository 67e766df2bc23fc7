"""Where framestyle keeps its files. Set FRAMESTYLE_HOME to move everything."""
from __future__ import annotations

import os
from pathlib import Path

ENV_HOME = "FRAMESTYLE_HOME"


def _ensure(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def home() -> Path:
    """$FRAMESTYLE_HOME, else ~/.cache/framestyle (created on demand)."""
    env = os.environ.get(ENV_HOME)
    base = Path(env).expanduser() if env else Path.home() / ".cache" / "framestyle"
    return _ensure(base)


def cache_dir() -> Path:
    """Derived files that can be rebuilt at any time (converted graphs, style vectors)."""
    return _ensure(home() / "cache")


def user_models_dir() -> Path:
    """Models the user trained or dropped in."""
    return _ensure(home() / "models")
