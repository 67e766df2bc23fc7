"""Quantise, prune and binarise a tiny student (random weights) end to end with real ORT sessions."""
import json

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from framestyle.cli import main
from framestyle.nets import build
from framestyle.export.onnx import export_onnx


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FRAMESTYLE_HOME", str(tmp_path / "home"))
    return tmp_path


@pytest.fixture()
def tiny(home):
    import torch
    torch.manual_seed(0)
    kw = {"alpha": 0.34, "blocks": 2}
    path = home / "tiny.onnx"
    export_onnx(build("fast", **kw), path)
    path.with_suffix(".json").write_text(json.dumps({"arch": "fast", "arch_kwargs": kw, "kind": "fixed",
                                                     "teacher": "multistyle26:7"}))
    return path


@pytest.fixture(scope="module")
def one():
    from framestyle.train.data import held_out_images
    return held_out_images()[:1]


@pytest.fixture(scope="module")
def photos():
    from framestyle.shrink.finetune import content_subset
    return content_subset(limit=6, max_side=256)


def test_rebuild_from_onnx_matches_ort(tiny):
    from framestyle.shrink.from_onnx import compare_with_ort, torch_from_onnx
    net, info = torch_from_onnx(tiny)
    assert info.card["arch"] == "fast"
    assert compare_with_ort(net, tiny, sizes=((40, 56), (72, 128))) < 1e-5
    # untouched norm scales are equal, so the exporter de-duplicates them (Identity nodes): still rebuilt
    kw = {"alpha": 0.34, "blocks": 4}
    dup = tiny.with_name("dup.onnx")
    export_onnx(build("fast", **kw), dup)
    dup.with_suffix(".json").write_text(json.dumps({"arch": "fast", "arch_kwargs": kw}))
    assert any(n.op_type == "Identity" for n in onnx.load(str(dup)).graph.node)
    torch_from_onnx(dup)  # raises unless the rebuilt net matches ORT to 1e-4


@pytest.mark.parametrize("method,floor", [("int8", 35.0), ("int8-dynamic", 35.0), ("fp16", 55.0)])
def test_quantize_paths(tiny, one, method, floor):
    from framestyle.zoo import get_model
    from framestyle.shrink.quantize import quantize
    res = quantize(tiny, method, f"tiny-{method}", images=one)
    assert res["psnr_vs_source"] > floor
    info = get_model(f"tiny-{method}")
    assert info.card["derived_from"] == "tiny" and info.card["method"] == method and info.kind == "fixed"
    ops = {n.op_type for n in onnx.load(str(info.path)).graph.node}
    if method == "int8":
        assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    elif method == "int8-dynamic":
        assert "ConvInteger" in ops
    else:
        types = {i.data_type for i in onnx.load(str(info.path)).graph.initializer}
        assert onnx.TensorProto.FLOAT16 in types


def test_prune_reduces_params_and_runs_at_odd_sizes(tiny, photos, one):
    import torch
    from framestyle.runtime.stylizer import Stylizer
    from framestyle.shrink.from_onnx import torch_from_onnx
    from framestyle.shrink.prune import count_params, prune, prune_channels
    net, _ = torch_from_onnx(tiny)
    same = prune_channels(net, net.stem.out_channels)  # keeping every channel must be the identity
    x = torch.rand(1, 3, 48, 64)
    with torch.no_grad():
        assert float((same(x) - net(x)).abs().max()) < 1e-6
    res = prune(tiny, 0.5, "tiny-p50", steps=6, imgs=photos, progress=False, images=one)
    assert res["channels"] == [16, 8] and res["params"] < count_params(net) / 2 + 100
    assert res["size_bytes"] < res["source_size_bytes"]
    st = Stylizer("tiny-p50")
    for h, w in ((37, 53), (101, 67)):
        out = st.stylize(np.ascontiguousarray(photos[0][:h, :w]))
        assert out.shape == (h, w, 3) and out.dtype == np.uint8
    rebuilt, _ = torch_from_onnx("tiny-p50")  # the card's arch_kwargs rebuild the pruned net
    assert rebuilt.stem.out_channels == 8


def test_binarize_two_values_per_output_channel(tiny, photos, one):
    from framestyle.shrink.binarize import binarize
    from framestyle.zoo import get_model
    res = binarize(tiny, "tiny-bin", steps=6, imgs=photos, progress=False, images=one)
    assert res["binary_layers"] == 4 and res["packing"]["packed_bytes"] < res["packing"]["float32_bytes"]
    w = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(get_model("tiny-bin").path)).graph.initializer}
    for name in ("body.0.pw.weight", "body.1.pw.weight", "body.0.dw.weight", "body.1.dw.weight"):
        for row in w[name].reshape(w[name].shape[0], -1):
            assert len(np.unique(np.abs(row))) == 1  # one magnitude per output channel
            if "pw" in name:
                assert len(np.unique(row)) == 2  # +a and -a
    assert len(np.unique(w["stem.weight"])) > 20 and len(np.unique(w["head.weight"])) > 20  # first/last float


def test_cli_quantize_json_and_bad_model(tiny, home, capsys):
    assert main(["quantize", str(tiny), "--int8", "--dynamic", "-o", "cli-int8", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["name"] == "cli-int8" and res["psnr_vs_source"] > 30
    assert main(["quantize", str(home / "missing.onnx"), "--int8", "-o", "x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "missing.onnx" in err[0]
    for bad, data in (("cut.onnx", tiny.read_bytes()[:2000]), ("empty.onnx", b"")):  # truncated, 0 bytes
        (home / bad).write_bytes(data)
        assert main(["quantize", str(home / bad), "--int8", "-o", "x"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:") and bad in err[0]
    assert main(["prune", "multistyle26", "--ratio", "0.5", "-o", "y"]) == 2
    assert capsys.readouterr().err.startswith("error:")
    assert main(["quantize", str(tiny), "--fp16", "--dynamic", "-o", "z"]) == 2
    assert main(["prune", str(tiny), "--ratio", "1.5", "-o", "z"]) == 2
    # an existing model of that name is kept unless --force: same bytes after the refusal, replaced with it
    made = res["path"]
    before = open(made, "rb").read()
    capsys.readouterr()
    assert main(["quantize", str(tiny), "--fp16", "-o", "cli-int8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "exists" in err[0] and "--force" in err[0]
    assert open(made, "rb").read() == before
    assert main(["quantize", str(tiny), "--fp16", "-o", "cli-int8", "--force", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["method"] == "fp16" and open(made, "rb").read() != before


def test_cli_quantize_static_json_and_refusals(tiny, home, capsys):
    """Static int8 with --json prints only JSON (ORT's calibration chatter goes to stderr); an int8 model, the
    AdaIN model and an --out-dir that is a file are refused with one error line; a teacher whose style image is
    not on this machine skips the teacher measurement instead of failing."""
    card = json.loads(tiny.with_suffix(".json").read_text())
    card.update(teacher="magenta:not-on-this-machine.jpg", fidelity={"psnr": 20.0})
    tiny.with_suffix(".json").write_text(json.dumps(card))
    assert main(["quantize", str(tiny), "--int8", "-o", "t8", "--json"]) == 0
    cap = capsys.readouterr()
    res = json.loads(cap.out)
    assert res["name"] == "t8" and "psnr_vs_teacher" not in res
    from framestyle.zoo import get_model
    assert "not-on-this-machine" in get_model("t8").card["fidelity_skipped"]
    (home / "afile").write_text("x")
    for args, words in ((["t8", "--int8", "-o", "t88"], "already quantised"),
                        (["adain-lite0", "--int8", "-o", "a8"], "student"),
                        ([str(tiny), "--fp16", "-o", "t16", "--out-dir", str(home / "afile")], "--out-dir")):
        assert main(["quantize", *args]) == 2, args
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:") and words in err[0], err


def test_quantize_arbitrary_student_calibrates_with_style_vectors(home):
    """An arbitrary-style student (cond-mg with Magenta's weights, stem=patch untrained) quantised to int8: the
    card keeps the student backend, the model runs with a style vector, and it is measured against Magenta and
    against the float student on held-out photos x held-out styles; --out-dir writes there, not to the zoo."""
    import torch
    from framestyle.runtime.arbitrary import StudentBackend
    from framestyle.train.arbitrary import export_model
    torch.manual_seed(0)
    net = build("cond-mg", blocks=2).load_teacher().eval()
    src = export_model(net, "mg2", {"kind": "arbitrary", "method": "student", "style_input": "style",
                                    "teacher": "magenta", "arch": "cond-mg", "arch_kwargs": {"blocks": 2}},
                       home / "src")
    out = home / "out"
    assert main(["quantize", str(src), "--int8", "-o", "mg2-int8", "--out-dir", str(out), "--json"]) == 0
    card = json.loads((out / "mg2-int8.json").read_text())
    assert card["method"] == "student" and card["quantization"] == "int8" and card["calibration"]["styles"] == 8
    # the teacher-form stem was rewritten on 2x2 phases before quantising: no 3-channel full-resolution conv
    assert card["arch_kwargs"] == {"blocks": 2, "stem": "phase"} and "phase" in card["rewrite"]
    f = card["fidelity"]
    assert f["pairs"] >= 4 and f["psnr_vs_source"] > 25 and 10 < f["psnr"] < f["psnr_vs_source"]
    g = onnx.load(str(out / "mg2-int8.onnx")).graph
    assert "QuantizeLinear" in {n.op_type for n in g.node}
    kernels = [list(i.dims) for i in g.initializer if len(i.dims) == 4]
    # (the only 3-channel kernel left is the fixed 2x2 space-to-depth)
    assert [12, 5, 5] in [k[1:] for k in kernels] and not any(k[1] == 3 and k[2] > 2 for k in kernels), kernels
    assert not (home / "home" / "models" / "mg2-int8.onnx").exists()
    be = StudentBackend(out / "mg2-int8.onnx")
    y = be.transform(np.full((67, 93, 3), 120, np.uint8), np.zeros(100, np.float32))
    assert y.shape == (67, 93, 3) and y.dtype == np.uint8


def test_cli_quantize_refuses_the_magenta_graph(home, capsys):
    assert main(["quantize", "magenta", "--int8", "-o", "m8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "student" in err[0]
