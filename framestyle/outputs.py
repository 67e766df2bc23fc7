"""Where a command may write, and under what name: the one output-path check and the one user-name check.

Every command that writes a file calls `check_output` (or `check_outputs` for many) before any work, and
user-chosen names (models, styles) go through `plain_name`. OS errors while writing become one `UserError`
through `os_error` (the CLI also turns any stray OSError into one `error:` line).
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Iterable, List, Optional, Union

from .errors import UserError

PathLike = Union[str, os.PathLike]
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def plain_name(name: Optional[str], what: str = "name") -> str:
    """A user-chosen name that stays a plain file name in its folder: no separators, no `..`, not absolute."""
    if name is None or not str(name).strip():
        raise UserError(f"{what}: give a non-empty name")
    name = str(name)
    if "/" in name or "\\" in name or os.path.isabs(name) or ".." in name or not NAME_RE.fullmatch(name):
        raise UserError(f"{what} {name!r}: give a plain name (letters, digits, - _ .), not a path")
    return name


def _key(p: Path) -> str:
    """A comparison key that also catches case-insensitive file systems."""
    try:
        p = p.expanduser().resolve()
    except (OSError, RuntimeError):
        p = Path(os.path.abspath(p))
    return os.path.normcase(str(p)).casefold()


class _Inputs:
    """The inputs of one run, indexed once: resolved case-folded paths and (device, inode) pairs."""

    def __init__(self, inputs: Iterable[PathLike]):
        self.by_key, self.by_inode = {}, {}
        for src in inputs:
            if str(src) == "-":
                continue
            p = Path(src)
            self.by_key[_key(p)] = src
            try:
                st = p.stat()
                self.by_inode[(st.st_dev, st.st_ino)] = src
            except OSError:
                pass

    def hit(self, out: Path):
        """The input `out` would overwrite, or None."""
        src = self.by_key.get(_key(out))
        if src is None and self.by_inode:
            try:
                st = out.stat()
                src = self.by_inode.get((st.st_dev, st.st_ino))
            except OSError:
                pass
        return src


def check_output(out: PathLike, inputs: Iterable[PathLike] = (), *, replace: bool = True, flag: str = "-o",
                 hint: str = "", folder_ok: bool = False, _probed=None) -> Path:
    """Refuse an output that is (or could overwrite) one of `inputs`, an existing file when `replace` is False
    (`hint` says how to allow it), a folder where a file is needed, or a place that cannot be written."""
    out = Path(out).expanduser()
    index = inputs if isinstance(inputs, _Inputs) else _Inputs(inputs)
    src = index.hit(out)
    if src is not None:
        raise UserError(f"{flag} {out}: would overwrite the input {src}; choose another output")
    if out.is_dir() and not folder_ok:
        raise UserError(f"{flag} {out}: is a folder; give a file name")
    if out.exists() and not out.is_dir() and not out.is_file():
        raise UserError(f"{flag} {out}: not a regular file (a device or pipe); give a file name")
    if out.exists() and not out.is_dir() and not replace:
        raise UserError(f"{flag} {out}: exists; choose a new name" + (f" or {hint}" if hint else ""))
    _check_parent(out, flag, _probed)
    return out


def check_outputs(outs: List[PathLike], inputs: Iterable[PathLike] = (), flag: str = "-o") -> List[Path]:
    """`check_output` for each, and no two outputs that land on one file."""
    index, seen, probed = _Inputs(inputs), {}, set()
    for o in outs:
        p = check_output(o, index, flag=flag, _probed=probed)
        k = _key(p)
        if k in seen:
            raise UserError(f"{flag}: {seen[k]} and {p} would be the same file; rename one input")
        seen[k] = p
    return [Path(o) for o in outs]


def _check_parent(out: Path, flag: str, probed=None) -> None:
    """The nearest existing ancestor must be a writable folder (probed once per folder in `probed`)."""
    parent = out.parent if str(out.parent) else Path(".")
    while not parent.exists() and parent != parent.parent:
        if parent.is_symlink():
            break
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise UserError(f"{flag} {out}: {parent} is a file, not a folder")
    if probed is not None:
        if parent in probed:
            return
        probed.add(parent)
    if parent.is_dir():
        try:  # a real probe: permissions, read-only mounts and pseudo file systems (/proc) all show here
            fd, probe = tempfile.mkstemp(prefix=".framestyle-probe-", dir=parent)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise UserError(f"{flag} {out}: cannot write in {parent} ({exc.strerror or exc})") from None


def os_error(exc: OSError, path: Optional[PathLike] = None) -> UserError:
    """One plain line for an OS error while reading or writing `path`."""
    where = path or exc.filename or "output"
    why = exc.strerror or type(exc).__name__
    return UserError(f"{where}: {why}")


def model_output(name: str, out_dir: Optional[PathLike] = None, force: bool = False, flag: str = "-o") -> Path:
    """Where model NAME goes (out_dir, default the user zoo): a plain name, and no existing model replaced
    unless `force`."""
    from .paths import user_models_dir
    name = plain_name(name, flag)
    if name.lower().endswith(".onnx"):
        raise UserError(f"{flag} {name!r}: give a model name without .onnx")
    folder = Path(out_dir).expanduser() if out_dir is not None else user_models_dir()
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--out-dir {folder}: is a file, not a folder")
    return check_output(folder / f"{name}.onnx", replace=force, flag=flag, hint="pass --force to replace it")
