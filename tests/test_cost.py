"""Operation count per pixel (metrics.cost): counted from the ONNX graph, it matches the PyTorch net the file was
exported from (int8 QDQ graphs, and a float conditional net with a style input), and every built-in card records it."""
import json

import pytest
import torch
import torch.nn as nn

from conftest import run_cli
from framestyle.metrics.cost import kmac_per_pixel, macs_per_pixel, node_macs
from framestyle.nets import build
from framestyle.nets.teacher_shaped import SpaceToDepth
from framestyle.zoo import get_model, list_models
from framestyle.zoo.card import CardError, ModelCard


def torch_macs_per_pixel(net, size=256, *extra):
    """MACs of every conv (Conv2d, the phase stem's one-hot SpaceToDepth) and Linear in a forward pass, by hooks
    (an independent count)."""
    total = [0]
    kinds = (nn.Conv2d, SpaceToDepth, nn.Linear)

    def hook(mod, args, out):
        if not isinstance(mod, nn.Linear):
            total[0] += out.numel() * mod.weight[0].numel()
        else:
            total[0] += out.numel() * mod.in_features
    hooks = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, kinds)]
    with torch.no_grad():
        net(torch.rand(1, 3, size, size), *extra)
    for h in hooks:
        h.remove()
    return total[0] / size / size


@pytest.mark.parametrize("name", ["starry", "graffiti"])
def test_the_count_matches_the_net_the_file_came_from(name):
    m = get_model(name)  # int8 QDQ graphs: the weights dequantised count the same
    net = build(m.card.arch, **m.card.arch_kwargs)
    net = net.for_export() if hasattr(net, "for_export") else net  # mg: the style folded into constants
    assert macs_per_pixel(m.path) == pytest.approx(torch_macs_per_pixel(net), rel=1e-9)
    *nodes, pixels = node_macs(m.path)
    assert {op for _, op, _ in nodes} == {"Conv"} and pixels == ("output", "pixels", 256 * 256)


def test_a_net_with_a_style_input_is_counted_with_its_style_maps():
    m = get_model("arbitrary")  # cond-mg: input + a [1,100] style vector through Gemm maps
    net = build(m.card.arch, **m.card.arch_kwargs)
    assert {op for _, op, _ in node_macs(m.path)} >= {"Conv", "Gemm"}
    assert macs_per_pixel(m.path) == pytest.approx(torch_macs_per_pixel(net, 256, torch.zeros(1, 100)), rel=1e-9)
    assert 1 < kmac_per_pixel(get_model("multi26").path) < 30  # style weights [26] fed an even blend


def test_every_builtin_card_records_its_count_and_models_shows_it():
    for m in list_models():  # the students' cards and the two teachers (Magenta: its NHWC 384x384 transform)
        if m.builtin and m.path.suffix == ".onnx" and m.style is None:
            assert m.card.kmac_per_pixel == kmac_per_pixel(m.path), m.name
    assert get_model("multistyle26").card.kmac_per_pixel == 19.4  # docs/REFERENCE: 17.9 GMAC per 720p frame
    items = {it["name"]: it for it in json.loads(run_cli("models", "--json").stdout)}
    assert items["starry"]["kmac_per_pixel"] == get_model("starry").card.kmac_per_pixel
    header = run_cli("models").stdout.decode().splitlines()[0]
    assert "kMAC/px" in header
    with pytest.raises(CardError, match="kmac_per_pixel"):
        ModelCard.from_json({"name": "x", "kmac_per_pixel": -1})


def test_a_card_saved_beside_its_model_gets_the_count(tmp_path):
    import shutil
    from framestyle.zoo.card import save_card
    dst = tmp_path / "mine.onnx"
    shutil.copy(get_model("starry").path, dst)
    save_card(dst, {"name": "mine"})
    assert json.loads(dst.with_suffix(".json").read_text())["kmac_per_pixel"] == kmac_per_pixel(dst) > 1
    save_card(tmp_path / "nofile.onnx", {"name": "nofile"})  # no model file yet: nothing to count
    assert "kmac_per_pixel" not in json.loads((tmp_path / "nofile.json").read_text())
