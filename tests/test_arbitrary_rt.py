"""The real-time any-painting student (`cond-mg-rt`): norms folded into style affines fitted over many styles,
one fixed int8 graph per style (runtime.specialise) run on the byte path, and the `--init` start from a trained
cond-mg."""
import json

import numpy as np
import pytest
from PIL import Image

from conftest import IMAGES

torch = pytest.importorskip("torch")


def _photos():
    return [np.asarray(Image.open(IMAGES / n).convert("RGB").resize((192, 144))) for n in ("aero1.jpg", "leuvenA.jpg")]


def _styles(n=12):
    """Real Magenta style vectors: crops of the starry night and of two photos."""
    from framestyle.zoo.magenta import MagentaTeacher
    t = MagentaTeacher(threads=2)
    rng = np.random.default_rng(0)
    out = []
    for name in ("starry_night.jpg", "home.jpg", "building.jpg"):
        img = np.asarray(Image.open(IMAGES / name).convert("RGB").resize((256, 256)))
        for _ in range(n // 3):
            c = int(rng.integers(96, 256))
            y, x = rng.integers(0, 257 - c, size=2)
            out.append(t.style_vector(np.ascontiguousarray(img[y:y + c, x:x + c])))
    return np.stack(out)


@pytest.fixture(scope="module")
def rt_model(tmp_path_factory):
    """A 2-block cond-mg-rt folded from Magenta's weights over 11 styles (one held back), exported as
    train-arbitrary does, with a card that asks for specialisation."""
    from framestyle.nets import build
    from framestyle.train.arbitrary import export_student
    styles = _styles()
    twin = build("cond-mg", stem="phase", blocks=2, up="16,4").load_teacher().eval()
    net = build("cond-mg-rt", blocks=2)
    info = net.fold_styles_from(twin, _photos(), styles[1:], crops=1, size=128)
    path = tmp_path_factory.mktemp("arbrt") / "a.onnx"
    export_student(net.eval(), path)
    path.with_suffix(".json").write_text(json.dumps({
        "name": "a", "kind": "arbitrary", "method": "student", "style_input": "style", "teacher": "magenta",
        "specialise": True, "arch": "cond-mg-rt", "arch_kwargs": {"blocks": 2}, "input": {"multiple": 4}}))
    return twin, net, path, styles[0], info


def _run(net, x, v):
    with torch.no_grad():
        y = net(torch.from_numpy(x.copy()).permute(2, 0, 1)[None].float() / 255, torch.from_numpy(v)[None])
    return (y[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


def test_folded_style_affines_follow_the_norms_on_a_held_back_style(rt_model):
    """The folded net stays close to the net with every norm live, for a style vector the fit never saw."""
    from framestyle.metrics.fidelity import psnr
    twin, net, _, v, info = rt_model
    assert info["norms_folded"] == 2 + 3 and info["fold_styles"] == 11
    x = np.asarray(Image.open(IMAGES / "home.jpg").convert("RGB").resize((160, 120)))
    close = psnr(_run(net, x, v), _run(twin, x, v))
    assert 17 < close < 60, close  # an approximation (fixed statistics), not a copy


def test_specialise_is_exact_in_torch_and_in_the_fixed_graph(rt_model):
    """One style: MG.specialise (PyTorch) and runtime.specialise.fixed_graph (numpy, no torch) both equal the
    conditional net; the fixed graph has the real-time shape: 2 live norms, no style maps."""
    import onnxruntime as ort
    from framestyle.runtime.specialise import fixed_graph, onnx_weights
    _, net, path, v, _ = rt_model
    x = torch.rand(1, 3, 68, 92)
    with torch.no_grad():
        ref = net(x, torch.from_numpy(v)[None]).numpy()
        assert float(np.abs(net.specialise(v)(x).numpy() - ref).max()) < 1e-5
    m = fixed_graph(onnx_weights(path), v)
    ops = [n.op_type for n in m.graph.node]
    assert ops.count("InstanceNormalization") == 2 and not {"MatMul", "Gemm"} & set(ops)
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    assert float(np.abs(sess.run(None, {"input": x.numpy()})[0] - ref).max()) < 1e-4


def test_stylizer_runs_a_style_image_on_the_byte_path_and_caches(rt_model, tmp_path):
    """Stylizer(model, style_image): the style's int8 graph, made once and cached, on the uint8 path; close to
    the float conditional net; another painting makes a second cached graph."""
    from framestyle.metrics.fidelity import psnr
    from framestyle.paths import cache_dir
    from framestyle.runtime.stylizer import Stylizer
    from framestyle.zoo.registry import _from_file
    _, net, path, _, _ = rt_model
    x = np.ascontiguousarray(np.asarray(Image.open(IMAGES / "home.jpg").convert("RGB").resize((160, 120))))
    st = Stylizer(_from_file(path, False), style_image=IMAGES / "starry_night.jpg", threads=2)
    a = st.process(x).copy()
    be = st._backend
    assert be._fixed is not None and be._fixed[2] and be._fixed[1].get_inputs()[0].name == "fs_frame"
    ref = _run(net, x, np.asarray(st._backend_state, np.float32))
    assert 25 < psnr(a, ref) < 60  # int8 vs float: close, not identical
    cached = list((cache_dir() / "specialised").glob("*.onnx"))
    assert len(cached) == 1
    st.set_style_image(IMAGES / "building.jpg")
    assert psnr(st.process(x), a) < 40
    assert len(list((cache_dir() / "specialised").glob("*.onnx"))) == 2


def test_init_from_a_trained_cond_mg(tmp_path):
    """--init: a cond-mg export becomes the start of a narrower cond-mg-rt; the narrowed up-path keeps the
    kept channels' weights (the same function when nothing is cut)."""
    from framestyle.nets import build
    from framestyle.nets.mgnet import MG
    from framestyle.train.arbitrary import export_student
    src = build("cond-mg", stem="phase", blocks=2).load_teacher().eval()
    p = tmp_path / "c.onnx"
    export_student(src, p)
    back = MG.from_export(p)
    assert back.up == (16, 8) and len(back.res) == 2 and back.stem_kind == "phase"
    x, v = torch.rand(1, 3, 64, 64), torch.randn(1, 100)
    with torch.no_grad():
        assert float((back(x, v) - src(x, v)).abs().max()) < 1e-5
        assert float((back.narrowed("16,8")(x, v) - src(x, v)).abs().max()) < 1e-6
    n = back.narrowed("16,4")
    assert n.head[1].out_channels == 4 * 16 and n.head[2].in_channels == 4 * 16
    net = build("cond-mg-rt", blocks=2)
    styles = _styles(9)
    info = net.start_from(None, _photos(), progress=False, styles=styles, init=p)
    assert info["init"] == "c.onnx" and info["norms_folded"] == 5


def _content(tmp_path):
    d = tmp_path / "content"
    d.mkdir()
    for n in ("aero1.jpg", "leuvenA.jpg"):
        Image.open(IMAGES / n).convert("RGB").resize((128, 96)).save(d / n.replace(".jpg", ".png"))
    return [str(d)]


def test_distill_init_starts_at_the_any_painting_student(rt_model, tmp_path):
    """distill --init MODEL --teacher magenta: the fixed student starts as the conditional one at the painting's
    style (same held-out score as the conditional net there) and keeps its shape (mg, folded, narrowed)."""
    from framestyle.train.distill import distill
    from framestyle.zoo.teachers import Teacher
    _, net, path, _, _ = rt_model
    teacher = "magenta:" + str(IMAGES / "starry_night.jpg")
    res = distill(teacher, "s", content=_content(tmp_path), steps=2, batch=2, lr=5e-4, workdir=tmp_path / "w",
                  out_dir=tmp_path / "out", progress=False, threads=2, init=str(path))
    card = json.loads((tmp_path / "out" / "s.json").read_text())
    assert card["arch"] == "mg" and card["arch_kwargs"]["fold"] == "half" and card["arch_kwargs"]["blocks"] == 2
    assert card["training"]["start"]["init"] == str(path)
    fixed = net.specialise(Teacher(teacher).vec)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert float((fixed(x) - net(x, torch.from_numpy(Teacher(teacher).vec).reshape(1, 100))).abs().max()) < 1e-5
    assert res["steps"] == 2


def test_distill_init_from_multi26_is_that_style(tmp_path):
    """distill --init multi26 --teacher multistyle26:S starts from multi26's own style S (its card's score)."""
    from framestyle.errors import UserError
    from framestyle.train.distill import distill
    from framestyle.zoo import get_model
    res = distill("multistyle26:12", "p", content=_content(tmp_path), steps=1, batch=2, lr=5e-4,
                  workdir=tmp_path / "w", out_dir=tmp_path / "out", progress=False, threads=2, init="multi26")
    card = json.loads((tmp_path / "out" / "p.json").read_text())
    want = next(r["psnr"] for r in get_model("multi26").card["fidelity"]["per_style"] if r["style"] == 12)
    assert card["arch"] == "multi-rt-fixed" and abs(card["training"]["start"]["heldout_psnr"] - want) < 1.0
    assert res["steps"] == 1
    with pytest.raises(UserError, match="--init"):  # a fixed student is not a start
        distill("multistyle26:12", "q", content=[str(tmp_path / "content")], steps=1, workdir=tmp_path / "w2",
                out_dir=tmp_path / "out", progress=False, init="starry")
