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
