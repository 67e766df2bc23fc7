"""The model card: one typed schema for the NAME.json beside every NAME.onnx.

    card = ModelCard.load(path)            # validates; a broken card is a UserError naming the file
    card.fidelity["psnr"], card.get("derived_from")
    ModelCard.from_json(d).save(path)      # every trainer and quantiser writes through this

Fields named here are checked; any other key (calibration, export, ...) is kept as written in `extra`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

from ..errors import UserError

KINDS = ("fixed", "multi", "arbitrary")
SPEED_CLASSES = ("real time", "interactive", "slow")  # >= 6x, >= 2x the peer at 1280x720, below


class CardError(UserError):
    """A model card that is not valid JSON or breaks the schema."""


@dataclass
class ModelCard:
    name: str = ""
    kind: str = "fixed"
    teacher: Optional[str] = None        # "magenta:starry_night.jpg", "multistyle26:5", "magenta"
    arch: Optional[str] = None           # a nets/ architecture (for training, pruning, binarising)
    arch_kwargs: Optional[dict] = None
    description: str = ""
    licence: Optional[str] = None
    method: Optional[str] = None         # arbitrary models: student|adain; derived ones: int8|fp16|...
    styles: Optional[int] = None         # multi-style models: how many styles
    use: str = ""                        # what it is for (the `models` table)
    training: dict = field(default_factory=dict)   # command, data, steps, minutes, ...
    fidelity: dict = field(default_factory=dict)   # psnr, ssim, size, per_image (vs the teacher)
    speed: dict = field(default_factory=dict)      # class, fps_640x480, fps_1280x720, x_peer_1280x720, source
    input: dict = field(default_factory=dict)      # name, layout, range, multiple, extra
    derived_from: Optional[str] = None
    command: Optional[str] = None        # the command that made this file (quantize, prune...), after training
    params: Optional[int] = None
    kmac_per_pixel: Optional[float] = None  # thousands of MACs per output pixel (metrics.cost)
    extra: dict = field(default_factory=dict)

    # -- reading --------------------------------------------------------------------------------------
    @classmethod
    def from_json(cls, d: dict, where: str = "model card") -> "ModelCard":
        if isinstance(d, ModelCard):
            return d
        if not isinstance(d, dict):
            raise CardError(f"{where}: a model card must be a JSON object")
        named = {f.name for f in fields(cls)} - {"extra"}
        card = cls(**{k: v for k, v in d.items() if k in named},
                   extra={k: v for k, v in d.items() if k not in named and k != "extra"})
        return card.validate(where)

    @classmethod
    def load(cls, path: Path) -> "ModelCard":
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise CardError(f"{path}: unreadable model card ({exc})") from None
        return cls.from_json(d, str(path))

    def validate(self, where: str = "model card") -> "ModelCard":
        def bad(msg):
            raise CardError(f"{where}: {msg}")
        if self.kind not in KINDS:
            bad(f"kind {self.kind!r} is not one of {', '.join(KINDS)}")
        for k in ("name", "description", "use"):
            if not isinstance(getattr(self, k), str):
                bad(f"{k} must be a string")
        for k in ("teacher", "arch", "licence", "method", "derived_from", "command"):
            v = getattr(self, k)
            if v is not None and not isinstance(v, str):
                bad(f"{k} must be a string")
        for k in ("arch_kwargs", "training", "fidelity", "speed", "input"):
            if not isinstance(getattr(self, k), dict) and not (k == "arch_kwargs" and self.arch_kwargs is None):
                bad(f"{k} must be an object")
        if "command" in self.training and not isinstance(self.training["command"], str):
            bad("training.command must be a string")
        psnr = self.fidelity.get("psnr")
        if psnr is not None and not (isinstance(psnr, (int, float)) and 0 < psnr < 100):
            bad(f"fidelity.psnr must be a number of dB, got {psnr!r}")
        m = self.input.get("multiple", 8)
        if not (isinstance(m, int) and 1 <= m <= 64):
            bad(f"input.multiple must be an integer 1..64, got {m!r}")
        if self.styles is not None and not (isinstance(self.styles, int) and self.styles > 0):
            bad(f"styles must be a positive integer, got {self.styles!r}")
        k = self.kmac_per_pixel
        if k is not None and not (isinstance(k, (int, float)) and not isinstance(k, bool) and k > 0):
            bad(f"kmac_per_pixel must be a positive number, got {k!r}")
        if self.speed.get("class") not in (None,) + SPEED_CLASSES:
            bad(f"speed.class must be one of {', '.join(SPEED_CLASSES)}")
        return self

    # -- dict-like reads (card.get("calibration")) ------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        if key != "extra" and key in {f.name for f in fields(self)}:
            v = getattr(self, key)
            return default if v is None else v
        return self.extra.get(key, default)

    def __getitem__(self, key: str) -> Any:
        v = self.get(key)
        if v is None:
            raise KeyError(key)
        return v

    def __contains__(self, key: str) -> bool:
        return key in self.to_json()

    # -- writing --------------------------------------------------------------------------------------
    def to_json(self) -> dict:
        out = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            v = getattr(self, f.name)
            if f.name == "teacher":  # always written: null says "no teacher" (perceptual, paired, adain)
                pass
            elif v is None or (v in ({}, "") and f.name not in ("kind", "name", "arch_kwargs")):
                continue
            out[f.name] = v
        out.update(self.extra)
        return out

    def save(self, path: Path) -> Path:
        from ..imageio import atomic_write_json
        path = Path(path).with_suffix(".json")
        self.validate(str(path))
        atomic_write_json(path, self.to_json())
        return path


def save_card(path: Path, card) -> Path:
    """Validate and write a card (a dict or ModelCard) beside `path` (NAME.onnx -> NAME.json), atomically; a card
    without `kmac_per_pixel` gets it counted from the .onnx when that file is already there."""
    card = ModelCard.from_json(card.to_json() if isinstance(card, ModelCard) else dict(card),
                               str(Path(path).with_suffix(".json")))
    onnx_path = Path(path).with_suffix(".onnx")
    if card.kmac_per_pixel is None and onnx_path.exists():
        from ..metrics.cost import kmac_per_pixel
        try:
            card.kmac_per_pixel = kmac_per_pixel(onnx_path)
        except Exception:  # a graph ONNX Runtime cannot run at 256x256: the count stays unrecorded
            pass
    return card.save(path)


def load_card(onnx_path: Path) -> ModelCard:
    """The card beside an .onnx file; an empty card when there is none."""
    p = Path(onnx_path).with_suffix(".json")
    return ModelCard.load(p) if p.exists() else ModelCard(name=Path(onnx_path).stem)
