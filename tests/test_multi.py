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
    # lean: ~1 MB (1,007,438 bytes since the stem's two live norms' tables, session 12)
    assert info.kind == "multi" and info.card["specialise"] and info.size_bytes < 1_050_000
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


@pytest.fixture(scope="module")
def live_model(tmp_path_factory):
    """The `body=live pad=reflect` multi-rt (every residual norm live, the body padded by reflection as the
    teacher), started from the shipped multi26 the way `distill-multi --init multi26` starts, exported with its card."""
    from framestyle.train.multi import export_multi, start_net
    net, info = start_net({"body": "live", "pad": "reflect"}, "multi26")
    arch = dict(net.args)  # the shipped file's shape (its stem norms live too since session 12) with these
    path = tmp_path_factory.mktemp("live") / "m.onnx"
    check = export_multi(net, path, arch)
    path.with_suffix(".json").write_text(json.dumps({"name": "m", "kind": "multi", "styles": 26, "specialise": True,
                                                     "teacher": "multistyle26", "arch": "multi-rt",
                                                     "arch_kwargs": arch, "input": {"multiple": 4}}))
    return net.eval(), path, check, info, arch


def test_live_reflect_variant_starts_from_multi26_and_folds_exactly(live_model):
    """--init multi26 (the shipped file, already this shape: nothing to unfold); the fixed graph (13 live norms,
    12 reflect pads) and the ONNX file match PyTorch at a one-hot style and a blend."""
    from framestyle.runtime.specialise import fixed_graph, onnx_weights
    _, path, check, info, arch = live_model
    assert info == {"init": "multi26", "norms_unfolded": 0}
    assert check["onnx_vs_torch_max_abs"] < 1e-3 and check["fixed_vs_torch_max_abs"] < 1e-3
    m = fixed_graph(onnx_weights(path), np.eye(26, dtype=np.float32)[3], arch=arch)
    ops = [n.op_type for n in m.graph.node]
    live = 13 + 2 * (arch.get("stem") == "live")  # 12 body norms and the stem's last, and its first two if live
    assert ops.count("InstanceNormalization") == live and ops.count("Pad") == 12
    from framestyle.nets.multi import MultiRT
    net, x, sw = live_model[0], torch.rand(1, 3, 64, 96), torch.eye(26)[4]
    with torch.no_grad():  # what `--init` of this file reads back
        assert torch.equal(MultiRT.from_export(path, **arch)(x, sw), net(x, sw))


def test_start_from_a_folded_net_gives_the_block_norms_the_teachers_tables():
    """A body=fold net moved into body=live: its six folded affines become live norms with the teacher's per-style
    gamma/beta; every other weight is copied as it is."""
    from framestyle.nets.ms26 import teacher_weights
    from framestyle.nets.multi import MultiRT
    torch.manual_seed(0)
    src = MultiRT()
    with torch.no_grad():
        for prm in src.parameters():
            prm.add_(torch.randn_like(prm) * 0.01)
    dst = MultiRT(body="live", pad="reflect")
    assert dst.start_from(src) == {"norms_unfolded": 6}
    tw = teacher_weights()
    for i, blk in enumerate(dst.res):
        assert blk[3].normalize and torch.equal(blk[3].gamma, tw[f"res.{i}.1.norm.gamma"])
        assert torch.equal(blk[0].weight, src.res[i][0].weight) and torch.equal(blk[1].gamma, src.res[i][1].gamma)
    assert torch.equal(dst.stem[0].weight, src.stem[0].weight) and dst.res[0][0].padding_mode == "reflect"


def test_stem_live_unfolds_at_the_photos_statistics_and_specialises(home_photo):
    """stem=live: the stem's two folded affines become live norms whose per-style gamma/beta equal the folded
    affine at the statistics measured on the photos, so on the photo they were measured on the net is unchanged;
    its fixed graph keeps 15 live norms and matches PyTorch."""
    from PIL import Image
    from conftest import IMAGES
    from framestyle.nets.multi import MultiRT
    from framestyle.runtime.specialise import fixed_graph
    photo = np.asarray(Image.fromarray(home_photo).resize((96, 96)))  # one square photo: every crop is all of it
    torch.manual_seed(0)
    src = MultiRT(body="live", pad="reflect").load_teacher()  # the teacher's body and tables, a random stem
    src.fold([photo], n=1, size=96)  # the stem's first two norms (and the head's) folded, as multi26 had them
    dst = MultiRT(body="live", pad="reflect", stem="live")
    with pytest.raises(ValueError):
        dst.start_from(src)
    assert dst.start_from(src, [photo]) == {"norms_unfolded": 2}
    assert dst.stem_norm[0].normalize and dst.stem_norm[1].normalize and dst.args["stem"] == "live"
    x = torch.from_numpy(photo.copy()).permute(2, 0, 1)[None].float() / 255
    other = torch.from_numpy(np.asarray(Image.open(IMAGES / "aero1.jpg").convert("RGB").resize((96, 96))).copy())
    other = other.permute(2, 0, 1)[None].float() / 255
    for s in (0, 19):
        sw = torch.eye(26)[s]
        with torch.no_grad():
            assert float((dst.eval()(x, sw) - src(x, sw)).abs().max()) < 2e-3
            assert float((dst(other, sw) - src(other, sw)).abs().max()) > 1e-2  # another photo: its own statistics
    wide = MultiRT(body="live", pad="reflect", stem="live", stemw=32)  # unfolded and widened in one start
    assert wide.start_from(src, [photo]) == {"norms_unfolded": 2, "stem_widened": [16, 32]}
    with torch.no_grad():
        assert float((wide.eval()(x, torch.eye(26)[19]) - src(x, torch.eye(26)[19])).abs().max()) < 2e-3
    arch = dict(dst.args)
    w = {k: v.numpy() for k, v in dst.state_dict().items()}
    m = fixed_graph(w, np.eye(26, dtype=np.float32)[5], arch=arch)
    assert [n.op_type for n in m.graph.node].count("InstanceNormalization") == 15
    import onnxruntime as ort
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        ref = dst(other, torch.eye(26)[5]).numpy()
    assert np.abs(sess.run(None, {sess.get_inputs()[0].name: other.numpy()})[0] - ref).max() < 1e-3


def test_wider_stem_starts_from_the_narrower_net_unchanged(tmp_path):
    """--arch-arg stemw=32 from a 16-wide stem: the trained channels are kept and the new ones add nothing until
    trained, so the net starts exactly where its source ended; its export (short names) reads back the same and
    specialises exactly. A narrower stem or a width off the 8-step grid is refused."""
    from framestyle.nets.multi import MultiRT
    from framestyle.train.multi import export_multi
    torch.manual_seed(0)
    src = MultiRT(body="live", pad="reflect", stem="live")
    with torch.no_grad():
        for prm in src.parameters():
            prm.add_(torch.randn_like(prm) * 0.05)
    dst = MultiRT(body="live", pad="reflect", stem="live", stemw="32")  # as an --arch-arg arrives
    assert dst.start_from(src) == {"norms_unfolded": 0, "stem_widened": [16, 32]}
    assert dst.args["stemw"] == 32 and dst.stem[0].weight.shape[0] == 32
    assert float(dst.stem[0].weight[16:].abs().sum()) > 0  # the new filters are not dead
    x, sw = torch.rand(2, 3, 64, 64), torch.eye(26)[3] * 0.5 + torch.eye(26)[12] * 0.5
    with torch.no_grad():
        assert float((dst(x, sw) - src(x, sw)).abs().max()) < 1e-6
    with pytest.raises(ValueError):
        src.start_from(dst)  # 32 -> 16
    for bad in ("12", "abc", "72"):
        with pytest.raises(ValueError):
            MultiRT(stemw=bad)
    path = tmp_path / "w.onnx"
    check = export_multi(dst, path, dict(dst.args))
    assert check["fixed_vs_torch_max_abs"] < 1e-3 and check["onnx_vs_torch_max_abs"] < 1e-3
    import onnx
    g = onnx.load(str(path)).graph
    assert not any(n.name for n in g.node) and not any("/" in o for n in g.node for o in n.output)
    with torch.no_grad():
        assert torch.equal(MultiRT.from_export(path, **dst.args)(x, sw), dst(x, sw))


def test_a_named_style_is_that_style_of_multi26_everywhere(tmp_path, home_photo):
    """ember = multi26 --style 5: the Stylizer, `eval fidelity` and `export` run style 5; another style or a blend
    on the named style is one error line, not a silent switch."""
    import cv2
    from conftest import run_cli
    from framestyle import Stylizer, UserError
    x = cv2.resize(home_photo, (128, 96), interpolation=cv2.INTER_AREA)
    ember = Stylizer("ember", threads=1).stylize(x)
    assert np.array_equal(ember, Stylizer("multi26", style=5, threads=1).stylize(x))
    assert not np.array_equal(ember, Stylizer("multi26", style=0, threads=1).stylize(x))
    for style in (3, "3:0.5,5:0.5"):
        with pytest.raises(UserError, match="multi26 --style"):
            Stylizer("ember", style=style)
    Stylizer("ember", style=5)  # its own style is fine
    cv2.imwrite(str(tmp_path / "h.png"), cv2.cvtColor(x, cv2.COLOR_RGB2BGR))
    res = run_cli("stylize", str(tmp_path / "h.png"), "-o", str(tmp_path / "o.png"), "--model", "ember", "--style", "3")
    err = res.stderr.decode()
    assert res.returncode == 2 and err.startswith("error:") and len(err.strip().splitlines()) == 1, err
    assert "multi26 --style" in err and not (tmp_path / "o.png").exists()
    res = run_cli("eval", "fidelity", "--model", "ember", "--images", str(tmp_path / "h.png"), "--size", "128",
                  "--json")
    assert res.returncode == 0, res.stderr.decode()
    from framestyle.metrics.fidelity import psnr
    from framestyle.zoo.teachers import Teacher
    t5 = (Teacher("multistyle26:5")(x) * 255 + 0.5).astype(np.uint8)
    assert abs(json.loads(res.stdout)["psnr"] - psnr(ember, t5)) < 0.05
    res = run_cli("export", "ember", "-o", str(tmp_path / "e.onnx"), "--json")
    assert res.returncode == 0, res.stderr.decode()
    assert json.loads(res.stdout)["max_abs_vs_ort"] < 1e-4  # style 5's fixed net against the file at style 5


def test_int8_graph_pads_the_codes_not_floats(live_model, home_photo):
    """The quantised fixed graph pads uint8 codes (no DequantizeLinear -> Pad -> QuantizeLinear left), and that
    rewrite is exact: the same output as the graph before it."""
    import cv2
    import onnx
    import onnxruntime as ort
    from framestyle.runtime.specialise import specialised
    from framestyle.shrink.quantize import int8_pads
    _, path, _, _, arch = live_model
    p = specialised(path, np.eye(26, dtype=np.float32)[7])
    m = onnx.load(str(p))
    prod = {o: n for n in m.graph.node for o in n.output}
    pads = [n for n in m.graph.node if n.op_type == "Pad"]
    assert len(pads) == 12 and all(prod[n.input[0]].op_type != "DequantizeLinear" for n in pads)
    x = cv2.resize(home_photo, (128, 96), interpolation=cv2.INTER_AREA).transpose(2, 0, 1)[None].astype(np.float32)
    x /= 255
    # undo the rewrite by re-quantising from the float graph without it: outputs must agree exactly
    from framestyle.shrink import quantize as Q
    before = p.with_name("before.onnx")
    orig = Q.int8_pads
    Q.int8_pads = lambda model: 0
    try:
        from framestyle.runtime.specialise import fixed_graph, onnx_weights, _calibration
        f = p.with_name("float.onnx")
        f.write_bytes(fixed_graph(onnx_weights(path), np.eye(26, dtype=np.float32)[7], arch=arch).SerializeToString())
        Q.quantize_file(f, before, "int8", calib=_calibration(), multiple=4)
    finally:
        Q.int8_pads = orig
    mb = onnx.load(str(before))
    prod_b = {o: n for n in mb.graph.node for o in n.output}
    assert [prod_b[n.input[0]].op_type for n in mb.graph.node if n.op_type == "Pad"] == ["DequantizeLinear"] * 12
    run = lambda q: ort.InferenceSession(str(q), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    assert np.abs(run(p) - run(before)).max() < 1e-6
    assert int8_pads(onnx.load(str(p))) == 0  # nothing left to rewrite


def test_distill_multi_refuses_a_bad_init_before_any_work(tmp_path):
    from conftest import run_cli
    for init, arg, share in (("starry", "body=live", "1"), ("multi26", "body=wide", "1"),
                             ("multi26", "body=live", "0"), ("multi26", "body=fold", "1"),  # fold a live norm
                             ("multi26", "stemw=12", "1"), ("multi26", "stemw=8", "1")):  # off-grid; narrower
        res = run_cli("distill-multi", "-o", "x", "--minutes", "1", "--init", init, "--arch-arg", arg,
                      "--label-share", share, "--workdir", tmp_path / "w", "--out-dir", tmp_path / "o")
        err = res.stderr.decode()
        assert res.returncode == 2 and err.startswith("error:") and len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "w").exists()


def test_distill_multi_resume_keeps_the_checkpoints_shape(tmp_path):
    """--resume builds the net the checkpoint was trained as (its arch, e.g. an --init model's live norms), and an
    --arch-arg that contradicts it is one error line, not a silent load into another shape."""
    from conftest import run_cli
    from framestyle.train.loop import save_checkpoint
    (tmp_path / "w").mkdir()
    save_checkpoint(tmp_path / "w" / "checkpoint.pt", model={}, arch={"body": "live", "pad": "reflect"})
    for arg in ("body=fold", "stem=live", "stemw=32"):  # stem, stemw: absent from its arch, so fold and 16
        res = run_cli("distill-multi", "-o", "x", "--minutes", "1", "--resume", "--arch-arg", arg,
                      "--workdir", tmp_path / "w", "--out-dir", tmp_path / "o")
        err = res.stderr.decode()
        assert res.returncode == 2 and err.startswith("error:") and len(err.strip().splitlines()) == 1, err
        assert "--resume" in err and not (tmp_path / "w" / "train.log").exists()
