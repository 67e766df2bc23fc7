"""The teacher-shaped student: the PyTorch rebuild is multistyle26, the 1/4-resolution head is the teacher's
up-path, and distillation starts from the teacher's weights."""
import json

import numpy as np
import pytest
from PIL import Image

from conftest import IMAGES

torch = pytest.importorskip("torch")


def _photo(w=128, h=96):
    return np.asarray(Image.open(IMAGES / "home.jpg").convert("RGB").resize((w, h)))


def _run(net, x):
    with torch.no_grad():
        y = net(torch.from_numpy(x.copy()).permute(2, 0, 1)[None].float() / 255)[0].permute(1, 2, 0).numpy()
    return (y * 255 + 0.5).astype(np.uint8)


def test_rebuild_is_the_teacher():
    from framestyle.metrics.fidelity import psnr
    from framestyle.nets import build
    from framestyle.zoo.teachers import Teacher, parse_style
    x = _photo()
    for style in ("5", "3:0.5,12:0.5"):
        t = (Teacher(f"multistyle26:{style}")(x) * 255 + 0.5).astype(np.uint8)
        net = build("ms26", stem="teacher", head="teacher", reflect=True).load_teacher(parse_style(style)).eval()
        assert psnr(_run(net, x), t) > 60


def test_phase_head_computes_the_teachers_up_path():
    """Same weights, head rewritten at 1/4 resolution: identical away from the borders (zero vs reflect pad)."""
    from framestyle.metrics.fidelity import psnr
    from framestyle.nets import build
    from framestyle.zoo.teachers import parse_style
    x = _photo()
    w = parse_style("12")
    full = _run(build("ms26", stem="teacher", head="teacher", reflect=True).load_teacher(w).eval(), x)
    for res in ("quarter", "half"):  # all three convs at 1/4 resolution, or the last two at 1/2
        phase = _run(build("ms26", stem="teacher", head="phase", reflect=True, head_res=res).load_teacher(w).eval(), x)
        # (border pixels shift the norm statistics a little)
        assert psnr(phase[12:-12, 12:-12], full[12:-12, 12:-12]) > 38, res
        assert np.abs(phase.astype(int) - full.astype(int)).max() > 0  # the borders do differ: not a copy


def test_distill_starts_from_the_teacher(tmp_path):
    from framestyle.train.distill import distill
    d = tmp_path / "c"
    d.mkdir()
    for n in ("aero1.jpg", "leuvenA.jpg"):
        Image.open(IMAGES / n).resize((160, 120)).save(d / n.replace(".jpg", ".png"))
    res = distill("multistyle26:12", "t", arch="ms26", arch_kwargs={"blocks": 2, "stem_fit": 30},
                  content=[str(d)], steps=6, batch=2, crop=0, lr=5e-4, workdir=tmp_path / "w",
                  out_dir=tmp_path / "out", eval_every=3, progress=False, threads=2)
    card = json.loads((tmp_path / "out" / "t.json").read_text())
    start = card["training"]["start"]
    assert start["stem_fit_steps"] == 30 and start["heldout_psnr"] > 14 and start["seconds"] > 0
    assert res["fidelity"]["psnr"] > 14 and card["arch"] == "ms26"


def test_magenta_teacher_is_refused(tmp_path):
    from framestyle.errors import UserError
    from framestyle.nets import build
    from framestyle.zoo.teachers import Teacher
    t = Teacher("magenta:" + str(IMAGES / "starry_night.jpg"))
    with pytest.raises(UserError, match="multistyle26"):
        build("ms26").start_from(t, [_photo()])


def test_mg_rebuild_is_the_magenta_transform():
    """Magenta's weights in the mg net (phase head, zero padding): close to Magenta away from the borders, and
    the conditional version with the same style vector computes the same image."""
    from framestyle.metrics.fidelity import psnr
    from framestyle.nets import build
    from framestyle.zoo.teachers import Teacher
    x = _photo(256, 192)
    t = Teacher("magenta:" + str(IMAGES / "starry_night.jpg"))
    ref = (t(x) * 255 + 0.5).astype(np.uint8)
    net = build("mg").load_teacher(t.vec).eval()
    out = _run(net, x)
    assert psnr(out[24:-24, 24:-24], ref[24:-24, 24:-24]) > 26
    cond = build("cond-mg").load_teacher().eval()
    xt = torch.from_numpy(x.copy()).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        a = net(xt)
        b = cond(xt, torch.from_numpy(np.asarray(t.vec, np.float32).reshape(1, 100)))
    assert float((a - b).abs().max()) < 1e-5


def test_mg_patch_stem_is_fitted_and_exports(tmp_path):
    from framestyle.export.onnx import check_against_torch, export_onnx
    from framestyle.nets import build
    from framestyle.zoo.teachers import Teacher
    t = Teacher("magenta:" + str(IMAGES / "starry_night.jpg"))
    net = build("mg", stem="patch", blocks=2, stem_fit=25)
    info = net.start_from(t, [_photo(160, 120), _photo(128, 96)], progress=False)
    assert info["stem_fit_steps"] == 25 and info["stem_fit_mse"] < 1.0
    export_onnx(net.eval(), tmp_path / "mg.onnx", multiple=4)
    assert check_against_torch(net, tmp_path / "mg.onnx", [(36, 52), (68, 92)])["onnx_vs_torch_max_abs"] < 1e-4


def test_cond_mg_runs_as_an_arbitrary_student(tmp_path):
    """cond-mg with Magenta's weights, exported like train-arbitrary does, run by the runtime's student backend
    with a held-out painting: already close to Magenta before any training."""
    from framestyle.metrics.fidelity import psnr
    from framestyle.nets import build
    from framestyle.runtime.arbitrary import StudentBackend
    from framestyle.train.arbitrary import export_model
    from framestyle.zoo.magenta import MagentaTeacher
    net = build("cond-mg").load_teacher().eval()
    path = export_model(net, "mg-any", {"kind": "arbitrary", "method": "student", "style_input": "style"}, tmp_path)
    teacher = MagentaTeacher()
    be = StudentBackend(path, teacher=teacher)
    style = np.asarray(Image.open(IMAGES / "starry_night.jpg").convert("RGB"))
    x = _photo(256, 192)
    v = be.style_vector(style)
    out = be.transform(x, v)
    ref = (np.clip(teacher.transform(x, v), 0, 1) * 255 + 0.5).astype(np.uint8)
    assert out.shape == ref.shape and psnr(out[24:-24, 24:-24], ref[24:-24, 24:-24]) > 26


def test_mg_export_folds_the_fixed_style():
    """The exported mg carries its style as constants: same output, none of the 100->C style maps."""
    from framestyle.nets import build
    from framestyle.zoo.teachers import Teacher
    t = Teacher("magenta:" + str(IMAGES / "starry_night.jpg"))
    net = build("mg", blocks=2).load_teacher(t.vec).eval()
    folded = net.for_export()
    x = torch.rand(2, 3, 48, 64)
    with torch.no_grad():
        assert float((net(x) - folded(x)).abs().max()) < 1e-6
    n_params = sum(p.numel() for p in folded.parameters())
    assert n_params < sum(p.numel() for p in net.parameters()) - 100 * 8 * 2
    assert build("cond-mg").for_export().cond  # the any-style net keeps its style input


def test_cli_refuses_bad_options_and_wrong_teacher_before_labelling(tmp_path):
    from conftest import run_cli
    res = run_cli("distill", "--teacher", "multistyle26:5", "--arch", "ms26", "--arch-arg", "blocks=9", "--steps", "2",
                  "-o", "b", "--workdir", tmp_path / "b", "--out-dir", tmp_path / "o")
    err = res.stderr.decode().strip().splitlines()
    assert res.returncode == 2 and err[-1].startswith("error:") and "blocks 1..6" in err[-1]
    assert "Traceback" not in res.stderr.decode()
    res = run_cli("distill", "--teacher", "magenta", "--style-image", IMAGES / "starry_night.jpg", "--arch", "ms26",
                  "--steps", "2", "-o", "m", "--workdir", tmp_path / "m", "--out-dir", tmp_path / "o")
    assert res.returncode == 2 and "multistyle26" in res.stderr.decode().splitlines()[-1]
    assert "teacher:" not in res.stderr.decode()  # refused before labelling any frame


def test_folded_head_norms_keep_the_function_and_leave_the_graph():
    """fold=head turns the up-path's norms into conv biases at their average statistics: the output barely
    moves (on a photo not used for the statistics), and the exported graph has no norm in the head."""
    import onnx
    from framestyle.export.onnx import export_onnx
    from framestyle.metrics.fidelity import psnr
    from framestyle.nets import build
    from framestyle.zoo.teachers import parse_style
    stats_on = [np.asarray(Image.open(IMAGES / n).convert("RGB").resize((192, 144)))
                for n in ("aero1.jpg", "leuvenA.jpg")]
    w = parse_style("12")
    src = build("ms26", stem="teacher").load_teacher(w).eval()
    x = _photo()
    for fold, floor, norms_left in (("head", 38, 3 + 12), ("half", 27, 3 + 6)):
        dst = build("ms26", stem="teacher", fold=fold).eval()
        info = dst.fold_from(src, stats_on)
        assert info["norms_folded"] == 18 - norms_left
        same = psnr(_run(dst, x), _run(src, x))
        assert floor < same < 60, (fold, same)  # close, but not a copy
        import pathlib
        import tempfile
        with tempfile.TemporaryDirectory() as td:
            p = pathlib.Path(td) / "f.onnx"
            export_onnx(dst, p, multiple=4)
            ops = [n.op_type for n in onnx.load(str(p)).graph.node]
        assert ops.count("InstanceNormalization") == norms_left, (fold, ops.count("InstanceNormalization"))


def test_mg_fold_through_start_from_and_export(tmp_path):
    """mg fold=head via start_from (Magenta's weights, norms folded at statistics of two photos): close to
    the unfolded net on another photo; the export has no norm left in the head; cond-mg refuses to fold."""
    import onnx
    from framestyle.export.onnx import check_against_torch, export_onnx
    from framestyle.metrics.fidelity import psnr
    from framestyle.nets import build
    from framestyle.zoo.teachers import Teacher
    t = Teacher("magenta:" + str(IMAGES / "starry_night.jpg"))
    stats_on = [np.asarray(Image.open(IMAGES / n).convert("RGB").resize((192, 144)))
                for n in ("aero1.jpg", "leuvenA.jpg")]
    ref = build("mg", blocks=2).load_teacher(t.vec).eval()
    net = build("mg", blocks=2, fold="head")
    assert net.start_from(t, stats_on, progress=False)["norms_folded"] == 3
    net.eval()
    x = _photo(160, 120)
    same = psnr(_run(net, x), _run(ref, x))
    assert 30 < same < 60, same
    p = tmp_path / "mgf.onnx"
    export_onnx(net.for_export(), p, multiple=4)
    assert [n.op_type for n in onnx.load(str(p)).graph.node].count("InstanceNormalization") == 4  # 2 blocks x 2
    assert check_against_torch(net, p, [(36, 52)])["onnx_vs_torch_max_abs"] < 1e-4
    from framestyle.errors import UserError
    with pytest.raises(UserError, match="fold"):
        build("cond-mg", fold="head")


def test_phase_stem_is_the_teacher_stem():
    """stem=phase: the teacher's 9x9 full-resolution conv and its stride-2 successor rewritten on 2x2 phases
    give the same net (teacher weights, and a trained cond-mg via with_phase_stem)."""
    from framestyle.nets import build
    x, v = torch.rand(1, 3, 72, 104), torch.randn(1, 100)
    a = build("cond-mg", stem="teacher", blocks=2).load_teacher().eval()
    b = build("cond-mg", stem="phase", blocks=2).load_teacher().eval()
    torch.manual_seed(0)
    for m in a.stem:  # as if trained: the rewrite must hold for any weights
        if isinstance(m, torch.nn.Conv2d):
            m.weight.data += 0.05 * torch.randn_like(m.weight)
    c = a.with_phase_stem()
    with torch.no_grad():
        assert float((a(x, v) - c(x, v)).abs().max()) < 1e-5
        assert float((build("cond-mg", stem="teacher", blocks=2).load_teacher().eval()(x, v) - b(x, v)).abs().max()) < 1e-5
        assert float((a(x, v) - b(x, v)).abs().max()) > 1e-3  # the perturbation did change the net
    assert not any(isinstance(m, torch.nn.Conv2d) and m.in_channels == 3 for m in c.stem)


def test_phase3_stem_starts_near_the_teacher_stem_and_its_fit_closes_in():
    """stem=phase3: the phase stem's 5x5 conv cut to 3x3 (64% fewer of its MACs), its taps moved inward: not the
    teacher's function, but close on a photo (cropping the centre instead is off by ~100%), and fitting it to the
    teacher's 1/4-resolution features on real photos brings it closer."""
    from framestyle.nets import build
    from framestyle.nets.teacher_shaped import fit_stem
    ref = build("mg", stem="phase", blocks=1).load_teacher().stem.eval()
    cut = build("mg", stem="phase3", blocks=1).load_teacher()
    assert cut.stem[1].kernel_size == (3, 3) and ref[1].kernel_size == (5, 5)
    photos = [np.asarray(Image.open(IMAGES / n).convert("RGB").resize((256, 192)))
              for n in ("aero1.jpg", "leuvenA.jpg")]
    x = torch.from_numpy(_photo(160, 120).copy()).permute(2, 0, 1)[None].float() / 255

    def err():
        with torch.no_grad():
            return float(((cut.stem(x) - ref(x)) ** 2).mean() / (ref(x) ** 2).mean())
    before = err()
    assert 0 < before < 0.15
    fit_stem(cut.stem, ref, photos, 40, progress=False, crop=128)
    assert err() < 0.8 * before


def test_mg_fold_half_collects_block_statistics():
    """fold=half also folds each block's second style norm (batch-1 statistics are taken on the StyleNorm, whose
    export path skips its inner norm module): every folded layer gets statistics and the output stays close."""
    from framestyle.metrics.fidelity import psnr
    from framestyle.nets import build
    from framestyle.zoo.teachers import Teacher
    t = Teacher("magenta:" + str(IMAGES / "starry_night.jpg"))
    stats_on = [np.asarray(Image.open(IMAGES / n).convert("RGB").resize((192, 144)))
                for n in ("aero1.jpg", "leuvenA.jpg")]
    ref = build("mg", blocks=2).load_teacher(t.vec).eval()
    net = build("mg", blocks=2, fold="half").eval()
    assert net.fold_from(ref, stats_on)["norms_folded"] == 2 + 3
    x = _photo(160, 120)
    assert 20 < psnr(_run(net, x), _run(ref, x)) < 60



def test_mg_narrow_up_path_keeps_teacher_channels(tmp_path):
    """`up=C1,C2` keeps C1 and C2 of the teacher's 16 and 8 up-path channels: 16,8 is the teacher net exactly, a
    narrower one holds the chosen teacher channels, is close to the full net on a photo and exports."""
    from framestyle.export.onnx import check_against_torch, export_onnx
    from framestyle.metrics.fidelity import psnr
    from framestyle.nets import build
    from framestyle.nets.mgnet import teacher_weights, up_keep
    from framestyle.zoo.teachers import Teacher
    t = Teacher("magenta:" + str(IMAGES / "starry_night.jpg"))
    full = build("mg", stem="phase").load_teacher(t.vec).eval()
    same = build("mg", stem="phase", up="16,8").load_teacher(t.vec).eval()
    x = _photo(192, 128)
    assert np.array_equal(_run(full, x), _run(same, x))
    narrow = build("mg", stem="phase", up="12,6").load_teacher(t.vec).eval()
    k1, k2, _ = up_keep(teacher_weights(), (12, 6), t.vec)
    assert len(k1) == 12 and len(k2) == 6 and bool((k1[1:] > k1[:-1]).all())
    assert narrow.head[1].weight.shape[:2] == (6 * 16, 12 * 4)
    sc = teacher_weights()["transformer/expand/conv2/conv/StyleNorm/Conv_1/bias"]
    assert torch.equal(narrow.head_norm[1].scale.bias, sc[k2])
    assert 18 < psnr(_run(narrow, x), _run(full, x)) < 60  # changed, but still the same picture
    export_onnx(narrow.for_export(), tmp_path / "n.onnx", multiple=4)
    assert check_against_torch(narrow.for_export(), tmp_path / "n.onnx", [(36, 52)])["onnx_vs_torch_max_abs"] < 1e-4
    from framestyle.errors import UserError
    with pytest.raises(UserError, match="up C1,C2"):
        build("mg", up="20,8")
