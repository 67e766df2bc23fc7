"""Export a tiny student (random weights) to ONNX / TFLite / Core ML, RGB and YUV input, checked against ORT."""
import json

import numpy as np
import onnx
import pytest

from framestyle.cli import main
from framestyle.export.onnx import export_onnx
from framestyle.nets import build

# YUV inputs go through an 8-bit colour conversion that may differ from OpenCV's fixed-point one by 1 level
# per channel, which the model carries through: measured max 0.0066 / mean 0.0003 on this tiny model.
YUV_MAX, YUV_MEAN = 0.02, 2e-3


@pytest.fixture()
def tiny(tmp_path, monkeypatch):
    import torch
    monkeypatch.setenv("FRAMESTYLE_HOME", str(tmp_path / "home"))
    torch.manual_seed(1)
    kw = {"alpha": 0.34, "blocks": 2}
    path = tmp_path / "tiny.onnx"
    export_onnx(build("fast", **kw), path)
    path.with_suffix(".json").write_text(json.dumps({"arch": "fast", "arch_kwargs": kw, "kind": "fixed"}))
    return path


def _dims(path):
    t = onnx.load(str(path)).graph.input[0].type.tensor_type
    return [d.dim_value or d.dim_param for d in t.shape.dim], t.elem_type


def test_onnx_dynamic_and_fixed_match_ort(tiny, tmp_path):
    from framestyle.export.convert import export_model
    dyn = export_model(tiny, "onnx", tmp_path / "dyn.onnx")
    assert dyn["max_abs_vs_ort"] < 1e-5 and len(dyn["checks"]) == 2  # two sizes through one file
    assert _dims(tmp_path / "dyn.onnx")[0] == [1, 3, "height", "width"]
    fixed = export_model(tiny, "onnx", tmp_path / "fixed.onnx", size=(64, 96), nhwc=True, opset=17)
    assert fixed["max_abs_vs_ort"] < 1e-5
    assert _dims(tmp_path / "fixed.onnx")[0] == [1, 64, 96, 3]
    assert onnx.load(str(tmp_path / "fixed.onnx")).opset_import[0].version == 17


@pytest.mark.parametrize("fmt", ["nv12", "i420"])
@pytest.mark.parametrize("rng", ["video", "full"])
def test_yuv_model_matches_opencv_then_rgb_model(tiny, tmp_path, fmt, rng):
    import torch
    from framestyle.export import yuv
    from framestyle.export.convert import export_model, photo, reference
    from framestyle.runtime.session import make_session
    from framestyle.zoo import get_model
    out = tmp_path / f"{fmt}.onnx"
    res = export_model(tiny, "onnx", out, input_format=fmt, rng=rng)
    assert res["max_abs_vs_ort"] < YUV_MAX
    assert _dims(out) == (["rows", "width"], onnx.TensorProto.UINT8)
    img = photo(120, 200)
    buf = yuv.rgb_to_yuv420(img, fmt, rng)
    assert buf.shape == (180, 200) and buf.dtype == np.uint8
    cv_rgb = yuv.reference_rgb(buf, fmt, rng)  # cv2.cvtColor(COLOR_YUV2RGB_NV12/I420), or YCrCb2RGB for full
    ours = yuv.yuv_to_rgb_module(fmt, rng)(torch.from_numpy(buf))[0].permute(1, 2, 0).numpy() * 255
    assert np.abs(ours - cv_rgb).max() <= 1.0 + 1e-3
    got = make_session(out).run(None, {"yuv": buf})[0]
    ref = reference(get_model(str(tiny)), cv_rgb)
    assert got.shape == ref.shape == (1, 3, 120, 200)
    assert np.abs(got - ref).max() < YUV_MAX and np.abs(got - ref).mean() < YUV_MEAN


def test_tflite_runs_in_litert_and_matches_ort(tiny, tmp_path):
    pytest.importorskip("litert_torch", reason="pip install torch==2.13.0 litert-torch==0.10.0 ai-edge-litert==2.3.0")
    pytest.importorskip("ai_edge_litert")
    from framestyle.export.convert import export_model
    from framestyle.export.tflite import run_tflite
    res = export_model(tiny, "tflite", tmp_path / "m.tflite", size=(64, 96), nhwc=True)
    assert res["tflite"]["input"]["shape"] == [1, 64, 96, 3] and res["max_abs_vs_ort"] < 1e-5
    res = export_model(tiny, "tflite", tmp_path / "y.tflite", size=(64, 96), input_format="nv12")
    assert res["tflite"]["input"] == {"name": res["tflite"]["input"]["name"], "shape": [96, 96], "dtype": "uint8"}
    assert res["max_abs_vs_ort"] < YUV_MAX
    with pytest.raises(Exception, match="expects"):
        run_tflite(tmp_path / "m.tflite", np.zeros((1, 32, 32, 3), np.float32))


def test_coreml_package_is_valid(tiny, tmp_path):
    pytest.importorskip("coremltools", reason="pip install torch==2.13.0 coremltools==9.0")
    from framestyle.export.convert import export_model
    res = export_model(tiny, "coreml", tmp_path / "m.mlpackage", size=(64, 96))
    assert res["coreml"]["type"] == "mlProgram" and res["coreml"]["input"]["shape"] == [1, 3, 64, 96]
    assert (tmp_path / "m.mlpackage" / "Manifest.json").exists()
    res = export_model(tiny, "coreml", tmp_path / "m.mlpackage", size=(64, 96), input_format="i420")
    assert res["coreml"]["input"]["shape"] == [96, 96]  # overwritten in place, still valid


def test_cli_errors_are_one_line(tiny, tmp_path, capsys):
    cases = [["export", str(tmp_path / "nope.onnx"), "-o", str(tmp_path / "o.onnx")],
             ["export", str(tiny), "--to", "tflite", "-o", str(tmp_path / "o.tflite")],
             ["export", str(tiny), "--size", "60x90", "-o", str(tmp_path / "o.onnx")],
             ["export", str(tiny), "--size", "big", "-o", str(tmp_path / "o.onnx")],
             ["export", str(tiny), "-o", str(tiny)]]
    for argv in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:"), (argv, err)
    assert main(["export", str(tiny), "--input-format", "nv12", "--size", "48x64", "-o",
                 str(tmp_path / "ok.onnx"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["size"] == [48, 64]
