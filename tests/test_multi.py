"""The real-time multi-style student: export, per-style specialisation (fixed graph, int8, cache), Stylizer."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def cond_model(tmp_path_factory):
    """A MultiRT with the teacher's body and head, its norms folded per style on one photo (the stem is
    untrained), exported with its card."""
    import cv2
    from framestyle.imageio import load_image
    from framestyle.nets.multi import MultiRT
    from framestyle.train.multi import export_multi
    from conftest import IMAGES
    torch.manual_seed(0)
    photo = cv2.resize(load_image(IMAGES / "aero1.jpg"), (192, 144), interpolation=cv2.INTER_AREA)
    net = MultiRT().load_teacher()
    net.fold([photo], n=1, size=128)
    path = tmp_path_factory.mktemp("multi") / "m.onnx"
    check = export_multi(net, path)
    path.with_suffix(".json").write_text(json.dumps({"name": "m", "kind": "multi", "styles": 26, "specialise": True,
                                                     "teacher": "multistyle26", "input": {"multiple": 4}}))
    return net.eval(), path, check


def test_export_and_fixed_graph_match_the_net(cond_model):
    """export_multi checks the ONNX file and the specialised fixed graph (one-hot and a blend) against PyTorch."""
    _, _, check = cond_model
    assert check["onnx_vs_torch_max_abs"] < 1e-3 and check["fixed_vs_torch_max_abs"] < 1e-3


def test_fixed_graph_has_the_rt_shape(cond_model):
    """One style: the style tables are gone, 7 instance norms stay (stem + first norm of each block)."""
    from framestyle.runtime.specialise import fixed_graph, onnx_weights
    _, path, _ = cond_model
    m = fixed_graph(onnx_weights(path), np.eye(26, dtype=np.float32)[3])
    ops = [n.op_type for n in m.graph.node]
    assert ops.count("InstanceNormalization") == 7 and ops.count("Conv") == 19 and "MatMul" not in ops
    assert [i.name for i in m.graph.input] == ["input"]


def test_stylizer_runs_each_style_on_the_byte_path_and_caches(cond_model, home_photo, tmp_path):
    """Stylizer(multi, style): a specialised int8 graph on the uint8 path, close to the float conditional model;
    a style change makes one cached file; going back to a style reuses it."""
    import cv2
    from framestyle.metrics.fidelity import psnr
    from framestyle.paths import cache_dir
    from framestyle.runtime.stylizer import Stylizer
    from framestyle.zoo.registry import _from_file
    net, path, _ = cond_model
    x = np.ascontiguousarray(cv2.resize(home_photo, (160, 120), interpolation=cv2.INTER_AREA))
    st = Stylizer(_from_file(path, False), style=5, threads=2)
    a = st.process(x).copy()
    assert st._u8 and st.session.get_inputs()[0].name == "fs_frame"
    with torch.no_grad():
        ref = net(torch.from_numpy(x).permute(2, 0, 1)[None].float() / 255, torch.eye(26)[5])[0]
    ref = (ref.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    assert 25 < psnr(a, ref) < 60  # int8 vs float: close, not identical
    files = sorted((cache_dir() / "specialised").glob("*.onnx"))
    assert len(files) == 1
    st.set_style("3:0.5,12:0.5")
    b = st.process(x).copy()
    assert psnr(a, b) < 40  # another style
    st.set_style(5)
    assert np.array_equal(st.process(x), a)
    assert len(list((cache_dir() / "specialised").glob("*.onnx"))) == 2


def test_for_model_is_the_one_entry_for_a_style_graph(cond_model, tmp_path):
    """specialise.for_model: a multi-style card's style (index or the entry's own) is the cached specialised file;
    the any-painting card's is the file for its style vector; other cards are a UserError."""
    import dataclasses
    from framestyle.errors import UserError
    from framestyle.runtime.specialise import for_model, specialised
    from framestyle.zoo import get_model
    from framestyle.zoo.registry import _from_file
    _, path, _ = cond_model
    info = _from_file(path, False)
    got = for_model(info, style="7")
    assert got == specialised(path, np.eye(26, dtype=np.float32)[7]) and got.exists()
    assert for_model(dataclasses.replace(info, style="7")) == got
    with pytest.raises(UserError, match="not a style image"):
        for_model(info, style_vector=np.zeros(100))
    with pytest.raises(UserError, match="not specialisable"):
        for_model(get_model("starry"))
    arb = get_model("arbitrary")  # the any-painting student: one fixed graph per style vector
    with pytest.raises(UserError, match="100 finite numbers"):
        for_model(arb, style_vector=np.zeros(5))
    with pytest.raises(UserError, match="style image"):
        for_model(arb)
    v = np.linspace(-1, 1, 100).astype(np.float32)
    assert for_model(arb, style_vector=v) == specialised(arb.path, v)


@pytest.mark.parametrize("style", [6, 19])
def test_shipped_multi26_meets_its_card(style):
    """The built-in multi26, as Stylizer runs it (specialised int8, byte path), scores what its card says for
    this style vs multistyle26 on the held-out photos at 512 px."""
    from framestyle.metrics.fidelity import psnr
    from framestyle.runtime.stylizer import Stylizer
    from framestyle.train.multi import HeldOut
    from framestyle.zoo import get_model
    info = get_model("multi26")
    assert info.kind == "multi" and info.card["specialise"] and info.size_bytes < 1_000_000
    card = next(r for r in info.card["fidelity"]["per_style"] if r["style"] == style)
    held = HeldOut(512)
    st = Stylizer(info, style=style)
    got = np.mean([psnr(st.stylize(x), held.label(j, style)) for j, x in enumerate(held.imgs)])
    assert abs(got - card["psnr"]) < 0.3, (got, card)


def test_cli_stylize_with_a_blend(tmp_path):
    from conftest import IMAGES, run_cli
    out = tmp_path / "o.png"
    res = run_cli("stylize", str(IMAGES / "home.jpg"), "-o", str(out), "--model", "multi26", "--style",
                  "3:0.5,12:0.5", "--json")
    assert res.returncode == 0, res.stderr
    assert out.exists() and json.loads(res.stdout)


def test_distill_refuses_the_multi_net(tmp_path):
    """multi-rt takes a style per sample: `distill` (one teacher style) refuses it in one error line."""
    from conftest import run_cli
    res = run_cli("distill", "--teacher", "multistyle26:3", "--arch", "multi-rt", "-o", "x", "--steps", "5",
                  "--workdir", tmp_path / "w")
    assert res.returncode == 2 and res.stderr.decode().strip().startswith("error:")
    assert "distill-multi" in res.stderr.decode() and "Traceback" not in res.stderr.decode()
