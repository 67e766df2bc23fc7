"""Per-frame instance norms kept in int8 (runtime/qnorm.py): the shipped int8 graphs lose their float norms, run in
real ONNX Runtime sessions, and still normalise each frame (real photos, one dimmed to low contrast)."""
import numpy as np
import onnx
import pytest

from conftest import IMAGES


def _session(data: bytes):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])


def _graphs(name):
    from framestyle.runtime.session import uint8_graph
    from framestyle.zoo import get_model
    path = get_model(name).path
    return uint8_graph(path, int8_norms=False), uint8_graph(path, int8_norms=True)


def _norms(data: bytes) -> int:
    return sum(n.op_type == "InstanceNormalization" for n in onnx.load_from_string(data).graph.node)


def _photo(name="home.jpg", size=(256, 192)):
    import cv2
    from framestyle.imageio import load_image
    return np.ascontiguousarray(cv2.resize(load_image(IMAGES / name), size, interpolation=cv2.INTER_AREA))


@pytest.mark.parametrize("name,live", [("starry", 5), ("graffiti", 10)])
def test_int8_graph_norms_run_in_int8_and_match(name, live):
    """`starry` keeps 5 live norms (each before a ReLU), `graffiti` 10 (half of them before the residual add,
    no ReLU): all become int8 ops, and the frame comes out as the float-norm graph makes it."""
    from framestyle.metrics.fidelity import psnr
    plain, fast = _graphs(name)
    assert _norms(plain) == live and _norms(fast) == 0
    a, b = _session(plain), _session(fast)
    for photo in ("home.jpg", "building.jpg"):
        x = _photo(photo)
        ya, yb = (s.run(None, {s.get_inputs()[0].name: x})[0] for s in (a, b))
        assert ya.shape == yb.shape == x.shape and ya.dtype == yb.dtype == np.uint8
        assert psnr(ya, yb) > 30, (name, photo, psnr(ya, yb))


def test_int8_norms_are_per_frame():
    """The statistics are measured on each frame: a dimmed, low-contrast photo is normalised like the float norm
    does it (norms frozen at one frame's statistics would be far off), and differs from the bright one."""
    from framestyle.metrics.fidelity import psnr
    plain, fast = _graphs("starry")
    a, b = _session(plain), _session(fast)
    x = _photo()
    dim = (x.astype(np.float32) * 0.3 + 40).astype(np.uint8)
    ya, yb = (s.run(None, {s.get_inputs()[0].name: dim})[0] for s in (a, b))
    assert psnr(ya, yb) > 28, psnr(ya, yb)
    bright = b.run(None, {b.get_inputs()[0].name: x})[0]
    assert psnr(bright, yb) < psnr(ya, yb) - 5


def test_switch_and_graphs_without_int8_norms(monkeypatch):
    """FRAMESTYLE_INT8_NORMS=0 keeps the float norms (A/B runs); a float model has nothing to rewrite."""
    from framestyle.runtime import qnorm
    from framestyle.runtime.session import uint8_graph
    from framestyle.zoo import get_model
    monkeypatch.setenv("FRAMESTYLE_INT8_NORMS", "0")
    assert _norms(uint8_graph(get_model("starry").path)) == 5
    monkeypatch.delenv("FRAMESTYLE_INT8_NORMS")
    assert _norms(uint8_graph(get_model("starry").path)) == 0
    m = onnx.load(str(get_model("multi26").path))  # the float multi-style file: norms, no int8
    before = len(m.graph.node)
    assert qnorm.rewrite_norms(m) == 0 and len(m.graph.node) == before


def test_stylizer_runs_the_int8_norm_graph():
    """What every entry point runs (Stylizer, byte path) is the rewritten graph: its bytes, not the float-norm
    graph's."""
    from framestyle.runtime import Stylizer
    plain, fast = _graphs("starry")
    x = _photo("building.jpg", (240, 176))
    got = Stylizer("starry").stylize(x)
    a, b = _session(plain), _session(fast)
    want, other = (s.run(None, {s.get_inputs()[0].name: x})[0] for s in (b, a))
    assert np.array_equal(got, want) and not np.array_equal(got, other)
