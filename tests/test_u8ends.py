"""int8 models with byte-exact ends: quantised with input and output at scale 1/255, Stylizer feeds the frame's
bytes in and takes the output's codes out (runtime.u8ends), with the same pixels as the float-conversion path."""
import numpy as np
import onnx
import pytest

from conftest import IMAGES, builtin_students

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def int8_mg(tmp_path_factory):
    """An untrained phase-stem mg (2 blocks, Magenta's weights: a real picture; the up-path norms folded, so
    its last op is a conv), exported and quantised."""
    from PIL import Image
    from framestyle.export.onnx import export_onnx
    from framestyle.nets import build
    from framestyle.shrink.quantize import calibration_images, quantize_file
    from framestyle.zoo.teachers import Teacher
    d = tmp_path_factory.mktemp("u8")
    t = Teacher("magenta:" + str(IMAGES / "starry_night.jpg"))
    net = build("mg", stem="phase", blocks=2, up="12,6", fold="head")
    photos = [np.asarray(Image.open(IMAGES / n).convert("RGB").resize((160, 120))) for n in ("home.jpg", "aero1.jpg")]
    net.start_from(t, photos, progress=False)
    net = net.eval().for_export()
    export_onnx(net, d / "f.onnx", multiple=4)
    quantize_file(d / "f.onnx", d / "q.onnx", "int8", calibration_images(size=128)[:4], 4)
    return d / "q.onnx"


def _float_path(path, img, multiple):
    import onnxruntime as ort
    from framestyle.runtime import ops
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    import cv2
    h, w = img.shape[:2]
    hp, wp = ops.padded_size(h, w, multiple)
    padded = cv2.copyMakeBorder(img, 0, hp - h, 0, wp - w, cv2.BORDER_REFLECT_101)  # as the Stylizer pads
    y = s.run(None, {"input": padded.transpose(2, 0, 1)[None].astype(np.float32) / 255})[0]
    return np.clip(y[0].transpose(1, 2, 0) * 255 + 0.5, 0, 255).astype(np.uint8)[:h, :w]


def test_quantised_ends_are_exact_bytes(int8_mg):
    from onnx.numpy_helper import to_array as onnx_array
    g = onnx.load(str(int8_mg)).graph
    init = {i.name: onnx_array(i) for i in g.initializer}
    q_in = next(n for n in g.node if n.input[0] == "input")
    assert abs(float(init[q_in.input[1]]) * 255 - 1) < 1e-6 and int(init[q_in.input[2]]) == 0
    d2s = next(n for n in g.node if n.output[0] == "output")
    assert d2s.op_type == "DepthToSpace"  # the sigmoid runs before the last pixel shuffle


@pytest.mark.parametrize("h,w", [(96, 128), (75, 129)])
def test_stylizer_bytes_path_matches_float_path(int8_mg, h, w, monkeypatch):
    """The byte ends are exact: the same bytes as the file run with float ends (norms as float ops here; their
    int8 form is tests/test_qnorm.py)."""
    from PIL import Image
    from framestyle.runtime.session import U8_IN, uint8_graph
    from framestyle.runtime.stylizer import Stylizer
    monkeypatch.setenv("FRAMESTYLE_INT8_NORMS", "0")
    m = onnx.load_from_string(uint8_graph(int8_mg))
    ops_ = [n.op_type for n in m.graph.node]
    assert m.graph.input[0].name == U8_IN and "Cast" not in ops_ and "DepthToSpace" not in ops_
    assert not any(n.op_type == "Conv" and n.input[0].startswith("fs_") for n in m.graph.node)  # one-hot conv gone
    img = np.asarray(Image.open(IMAGES / "home.jpg").convert("RGB").resize((w, h)))
    st = Stylizer(str(int8_mg), threads=2)
    out = st.process(np.ascontiguousarray(img))
    assert st._u8
    ref = _float_path(int8_mg, img, st.info.multiple)
    assert out.shape == (h, w, 3) and np.array_equal(out, ref)
    assert out.std() > 5  # a picture, not a constant


def test_graph_without_exact_ends_keeps_the_float_wrapper(tmp_path):
    """A float model (no quantised ends) gets the conversion wrapper: Cast in, Cast out."""
    from framestyle.export.onnx import export_onnx
    from framestyle.nets import build
    from framestyle.runtime.session import uint8_graph
    export_onnx(build("mg", stem="phase", blocks=1).eval().for_export(), tmp_path / "f.onnx", multiple=4)
    ops_ = [n.op_type for n in onnx.load_from_string(uint8_graph(tmp_path / "f.onnx")).graph.node]
    assert ops_[0] == "Cast" and ops_[-1] == "Cast"


@pytest.mark.parametrize("name", [m.name for m in builtin_students() if m.card.method == "int8"])
def test_shipped_realtime_students_take_the_bytes_path(name):
    """The shipped -rt students were quantised with exact ends: no float conversion, no one-hot conv left."""
    from framestyle.runtime.session import uint8_graph
    from framestyle.zoo import get_model
    m = onnx.load_from_string(uint8_graph(get_model(name).path))
    ops_ = [n.op_type for n in m.graph.node if not n.output[0].startswith("fs_qn")]  # not the int8 norms' own
    # byte rearrangements only: 2 in with the phase stem's space-to-depth (1 without), 2 out
    assert "Cast" not in ops_ and "DepthToSpace" not in ops_ and ops_.count("Transpose") <= 4


def test_rewrite_refuses_what_it_cannot_reorder_exactly(tmp_path):
    """Graphs the byte path must not take (review findings): the first conv after space-to-depth is also the last
    one, and a grouped last conv. Both keep the wrapper, and give the float path's bytes."""
    import copy
    import torch.nn as nn
    import torch.nn.functional as F
    import onnxruntime as ort
    from framestyle.export.onnx import export_onnx
    from framestyle.nets.mgnet import SpaceToDepth
    from framestyle.runtime import u8ends
    from framestyle.runtime.session import U8_IN, U8_OUT, uint8_graph
    from framestyle.shrink.quantize import calibration_images, quantize_file

    class Same(nn.Module):
        def __init__(self):
            super().__init__()
            self.s, self.c = SpaceToDepth(), nn.Conv2d(12, 12, 3, padding=1)

        def forward(self, x):
            return F.pixel_shuffle(torch.sigmoid(self.c(self.s(x))), 2)

    class Grouped(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.c = nn.Conv2d(3, 16, 3, 2, padding=1), nn.Conv2d(16, 12, 3, padding=1, groups=4)

        def forward(self, x):
            return F.pixel_shuffle(torch.sigmoid(self.c(torch.relu(self.a(x)))), 2)

    torch.manual_seed(0)
    img = np.random.default_rng(1).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    for net in (Same(), Grouped()):
        export_onnx(net.eval(), tmp_path / "f.onnx", multiple=4)
        quantize_file(tmp_path / "f.onnx", tmp_path / "q.onnx", "int8", calibration_images(size=64)[:2], 4)
        assert not u8ends.rewrite(copy.deepcopy(onnx.load(str(tmp_path / "q.onnx"))), U8_IN, U8_OUT)
        s = ort.InferenceSession(uint8_graph(tmp_path / "q.onnx"), providers=["CPUExecutionProvider"])
        assert np.array_equal(s.run(None, {U8_IN: img})[0], _float_path(tmp_path / "q.onnx", img, 4))
