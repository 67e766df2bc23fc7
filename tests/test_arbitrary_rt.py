"""The any-painting student at the fixed students' speed: a `cond-mg` specialised per style (runtime.specialise:
the body's norms live, the up-path's folded at the style's measured statistics, int8, cached, byte path), the
`train-arbitrary --init` start from a trained cond-mg, and `distill --init` (a new painting's fixed student
starting from the any-painting student, or a multi26 style's from multi26)."""
import json

import numpy as np
import pytest
from PIL import Image

from conftest import IMAGES

torch = pytest.importorskip("torch")


def _img(name="home.jpg", w=160, h=120):
    return np.ascontiguousarray(np.asarray(Image.open(IMAGES / name).convert("RGB").resize((w, h))))


@pytest.fixture(scope="module")
def cond_model(tmp_path_factory):
    """A 2-block cond-mg (phase stem) with Magenta's weights, exported as train-arbitrary does, with a card that
    asks for specialisation."""
    from framestyle.nets import build
    from framestyle.train.arbitrary import export_student
    from framestyle.zoo.magenta import MagentaTeacher
    net = build("cond-mg", stem="phase", blocks=2).load_teacher().eval()
    path = tmp_path_factory.mktemp("arb") / "a.onnx"
    export_student(net, path)
    path.with_suffix(".json").write_text(json.dumps({
        "name": "a", "kind": "arbitrary", "method": "student", "style_input": "style", "teacher": "magenta",
        "specialise": True, "arch": "cond-mg", "arch_kwargs": {"stem": "phase", "blocks": 2},
        "input": {"multiple": 4}}))
    v = MagentaTeacher(threads=2).style_vector(_img("starry_night.jpg", 256, 256))
    return net, path, v


def _run(net, x, v=None):
    t = torch.from_numpy(x.copy()).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        y = net(t) if v is None else net(t, torch.from_numpy(np.asarray(v, np.float32)).reshape(1, 100))
    return (y[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


def test_fixed_graph_folds_the_up_path_at_measured_statistics(cond_model):
    """The live graph (numpy-built, no torch) is the conditional net; folded at the statistics of one photo it
    gives that photo back exactly (the fold is exact where the statistics are); only the body's 4 norms stay."""
    import onnxruntime as ort
    from framestyle.runtime.specialise import graph_of, mg_layers, fixed_graph, onnx_weights
    net, path, v = cond_model
    w, x = onnx_weights(path), _img()
    t = x.transpose(2, 0, 1)[None].astype(np.float32) / 255
    with torch.no_grad():
        ref = net(torch.from_numpy(t), torch.from_numpy(v).reshape(1, 100)).numpy()
    live = ort.InferenceSession(graph_of(mg_layers(w, v)).SerializeToString(), providers=["CPUExecutionProvider"])
    assert float(np.abs(live.run(["output"], {"input": t})[0] - ref).max()) < 1e-4
    m = fixed_graph(w, v, images=[x])
    ops = [n.op_type for n in m.graph.node]
    assert ops.count("InstanceNormalization") == 4 and not {"MatMul", "Gemm", "Reshape"} & set(ops)
    assert [o.name for o in m.graph.output] == ["output"]
    folded = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    assert float(np.abs(folded.run(None, {"input": t})[0] - ref).max()) < 1e-3
    other = _img("building.jpg").transpose(2, 0, 1)[None].astype(np.float32) / 255  # other statistics: close
    assert float(np.abs(folded.run(None, {"input": other})[0] - live.run(["output"], {"input": other})[0]).max()) > 1e-4


def test_stylizer_runs_a_style_image_on_the_byte_path_and_caches(cond_model):
    """Stylizer(model, style_image): the style's int8 graph, made once and cached, on the uint8 path; close to
    the float conditional net; another painting makes a second cached graph."""
    from framestyle.metrics.fidelity import psnr
    from framestyle.paths import cache_dir
    from framestyle.runtime.stylizer import Stylizer
    from framestyle.zoo.registry import _from_file
    net, path, _ = cond_model
    x = _img()
    st = Stylizer(_from_file(path, False), style_image=IMAGES / "starry_night.jpg", threads=2)
    a = st.process(x).copy()
    be = st._backend
    assert be._fixed is not None and be._fixed[2] and be._fixed[1].get_inputs()[0].name == "fs_frame"
    assert 25 < psnr(a, _run(net, x, st._backend_state)) < 60  # int8, folded vs float, live: close, not equal
    cached = list((cache_dir() / "specialised").glob("*.onnx"))
    assert len(cached) == 1
    st.set_style_image(IMAGES / "building.jpg")
    assert psnr(st.process(x), a) < 40
    assert len(list((cache_dir() / "specialised").glob("*.onnx"))) == 2


def test_init_from_a_trained_cond_mg(tmp_path, cond_model):
    """--init: a cond-mg export read back (its stem form, blocks and widths from its card or weights), continued
    as is, or narrowed (the kept channels' weights; nothing cut is the same function)."""
    from framestyle.nets import build
    from framestyle.nets.mgnet import MG
    net, path, _ = cond_model
    back = MG.from_export(path)
    assert back.up == (16, 8) and len(back.res) == 2 and back.stem_kind == "phase"
    x, v = torch.rand(1, 3, 64, 64), torch.randn(1, 100)
    with torch.no_grad():
        assert float((back(x, v) - net(x, v)).abs().max()) < 1e-5
        assert float((back.narrowed("16,8")(x, v) - net(x, v)).abs().max()) < 1e-6
    n = back.narrowed("16,4")
    assert n.head[1].out_channels == 4 * 16 and n.head[2].in_channels == 4 * 16
    cont = build("cond-mg", stem="phase", blocks=2)
    assert cont.start_from(None, [], progress=False, init=path)["init"] == "a.onnx"
    with torch.no_grad():
        assert float((cont.eval()(x, v) - net(x, v)).abs().max()) < 1e-5


def test_init_phase3_from_a_phase_stem_fits_the_cut_stem(cond_model):
    """--init with stem=phase3 (a cheaper any-painting student): the 5x5 phase conv's taps moved into 3x3 and the
    stem fitted to the trained student's own stem, so it starts close to that student; the export reads back as
    phase3 from its weights alone."""
    from framestyle.nets import build
    from framestyle.nets.mgnet import MG
    from framestyle.nets.teacher_shaped import shrink_kernel
    from framestyle.train.arbitrary import export_student
    import copy
    net, path, v = cond_model
    trained = copy.deepcopy(net)  # a "trained" student: Magenta's weights moved, so the start is not the teacher's
    torch.manual_seed(0)
    with torch.no_grad():
        for prm in trained.parameters():
            prm.mul_(1 + 0.2 * torch.randn_like(prm))
    src = path.with_name("trained.onnx")
    export_student(trained.eval(), src)
    photos = [_img(n, 128, 96) for n in ("aero1.jpg", "leuvenA.jpg", "home.jpg")]
    cut = build("cond-mg", stem="phase3", blocks=2, up="16,4", stem_fit=60)
    info = cut.start_from(None, photos, progress=False, init=src)
    assert info["stem_fit_steps"] == 60 and cut.stem[1].kernel_size == (3, 3) and cut.up == (16, 4)
    x = torch.from_numpy(_img("building.jpg", 128, 96)).permute(2, 0, 1)[None].float() / 255
    twin = MG.from_export(src).narrowed("16,4")
    assert all(torch.equal(a, b) for a, b in zip(cut.res.state_dict().values(), twin.res.state_dict().values()))
    with torch.no_grad():
        ref = twin.stem(x)
        fitted = float(((cut.stem(x) - ref) ** 2).mean() / (ref ** 2).mean())
        raw = copy.deepcopy(cut.stem)
        raw[1].weight.copy_(shrink_kernel(twin.stem[1].weight, 3))  # its taps moved, not fitted
        raw[1].bias.copy_(twin.stem[1].bias)
        for i in (3, 5):
            raw[i].load_state_dict(twin.stem[i].state_dict())
        unfitted = float(((raw(x) - ref) ** 2).mean() / (ref ** 2).mean())
    assert fitted < 0.6 * unfitted
    out = path.with_name("cut.onnx")
    export_student(cut.eval(), out)
    back = MG.from_export(out)  # no card: the stem's form from its weights
    assert back.stem_kind == "phase3" and back.up == (16, 4)
    vt = torch.from_numpy(np.asarray(v, np.float32)).reshape(1, 100)
    with torch.no_grad():
        assert float((back(x, vt) - cut(x, vt)).abs().max()) < 1e-5


def _content(tmp_path):
    d = tmp_path / "content"
    d.mkdir()
    for n in ("aero1.jpg", "leuvenA.jpg"):
        Image.open(IMAGES / n).convert("RGB").resize((128, 96)).save(d / n.replace(".jpg", ".png"))
    return [str(d)]


def test_distill_init_starts_at_the_any_painting_student(cond_model, tmp_path):
    """distill --init MODEL --teacher magenta: the fixed student starts as the conditional one at the painting's
    style, its up-path folded (mg fold=head), and scores about what the conditional net does there."""
    from framestyle.metrics.fidelity import psnr
    from framestyle.train.distill import distill
    from framestyle.zoo.teachers import Teacher
    net, path, _ = cond_model
    teacher = "magenta:" + str(IMAGES / "starry_night.jpg")
    res = distill(teacher, "s", content=_content(tmp_path), steps=1, batch=2, lr=1e-9, workdir=tmp_path / "w",
                  out_dir=tmp_path / "out", progress=False, threads=2, init=str(path))
    card = json.loads((tmp_path / "out" / "s.json").read_text())
    assert card["arch"] == "mg" and card["arch_kwargs"]["fold"] == "head" and card["arch_kwargs"]["blocks"] == 2
    assert card["training"]["start"]["init"] == str(path) and card["training"]["start"]["norms_folded"] == 3
    from framestyle.runtime.stylizer import Stylizer
    x = _img("building.jpg")
    same = psnr(Stylizer(res["path"], threads=2).stylize(x), _run(net, x, Teacher(teacher).vec))
    assert 28 < same < 60, same  # one (almost zero) step from the folded conditional net


def test_distill_init_from_multi26_is_that_style(tmp_path):
    """distill --init multi26 --teacher multistyle26:S starts from multi26's own style S (its card's score); a
    fixed student is no start."""
    from framestyle.errors import UserError
    from framestyle.train.distill import distill
    from framestyle.zoo import get_model
    distill("multistyle26:12", "p", content=_content(tmp_path), steps=1, batch=2, lr=5e-4, workdir=tmp_path / "w",
            out_dir=tmp_path / "out", progress=False, threads=2, init="multi26")
    card = json.loads((tmp_path / "out" / "p.json").read_text())
    want = next(r["psnr"] for r in get_model("multi26").card["fidelity"]["per_style"] if r["style"] == 12)
    assert card["arch"] == "multi-rt-fixed" and abs(card["training"]["start"]["heldout_psnr"] - want) < 1.0
    with pytest.raises(UserError, match="--init"):
        distill("multistyle26:12", "q", content=[str(tmp_path / "content")], steps=1, workdir=tmp_path / "w2",
                out_dir=tmp_path / "out", progress=False, init="starry")


def test_a_card_that_cannot_be_specialised_is_a_user_error(tmp_path):
    """A card saying "specialise" on a cond-mg whose stem is not the phase form: one UserError, no traceback."""
    from framestyle.errors import UserError
    from framestyle.nets import build
    from framestyle.runtime.stylizer import Stylizer
    from framestyle.train.arbitrary import export_student
    from framestyle.zoo.registry import _from_file
    path = tmp_path / "t.onnx"
    export_student(build("cond-mg", blocks=1).load_teacher().eval(), path)
    path.with_suffix(".json").write_text(json.dumps({
        "name": "t", "kind": "arbitrary", "method": "student", "style_input": "style", "teacher": "magenta",
        "specialise": True, "arch": "cond-mg", "input": {"multiple": 4}}))
    st = Stylizer(_from_file(path, False), style_image=IMAGES / "starry_night.jpg", threads=2)
    with pytest.raises(UserError, match="cannot be specialised"):
        st.process(_img())


def test_train_arbitrary_init_refuses_a_wider_or_other_shape(tmp_path):
    """--init arbitrary (stem=phase3 up=16,4): a net wider than it, or with a stem it cannot be cut to, is one
    error line naming the shapes that fit, before the style bank, the pool or the work dir."""
    from conftest import run_cli
    for args in (["--arch-arg", "stem=phase"], ["--arch-arg", "stem=phase3"],  # up 16,8: wider than 16,4
                 ["--arch-arg", "stem=phase3", "--arch-arg", "up=16,4", "--arch-arg", "blocks=4"]):
        res = run_cli("train-arbitrary", "-o", "x", "--arch", "cond-mg", *args, "--init", "arbitrary", "--steps",
                      "1", "--workdir", tmp_path / "w", "--out-dir", tmp_path / "o")
        err = res.stderr.decode()
        assert res.returncode == 2 and err.startswith("error:") and len(err.strip().splitlines()) == 1, err
        assert "stem=phase3" in err and "up=16,4" in err and not (tmp_path / "w").exists()
