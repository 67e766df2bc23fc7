"""`framestyle train`: perceptual training from a painting, on tiny crops and few steps."""
import csv
import json
import shutil

import numpy as np
import pytest
import torch

from framestyle.errors import UserError
from framestyle.imageio import load_image
from framestyle.train.perceptual import train_perceptual

from conftest import IMAGES

STYLE = IMAGES / "starry_night.jpg"
CONTENT = [str(IMAGES / "home.jpg"), str(IMAGES / "building.jpg")]
FAST = dict(arch="fast-tiny", content=CONTENT, size=64, batch=2, style_size=128, progress=False,
            sample_every=0, threads=2)


def _rows(path):
    return list(csv.DictReader(open(path)))


def test_loss_falls_exports_and_runs_in_stylizer(tmp_path, home_photo):
    from framestyle.nets import build
    from framestyle.runtime.stylizer import Stylizer
    from framestyle.train.features import get_features
    from framestyle.train.losses import PerceptualLoss
    from framestyle.train.paired import to_tensor
    from framestyle.train.perceptual import DEFAULT_WEIGHTS, sample_batch
    from framestyle.zoo import get_model
    work = tmp_path / "run"
    train_perceptual(STYLE, "painted", steps=20, lr=5e-3, workdir=work, stop_at=0, **FAST)
    init = torch.load(work / "checkpoint.pt", weights_only=False)["model"]
    res = train_perceptual(STYLE, "painted", steps=20, lr=5e-3, workdir=work, resume=True, **FAST)
    final = torch.load(work / "checkpoint.pt", weights_only=False)["model"]
    # the same loss on one fixed batch, before and after training
    style = to_tensor(load_image(STYLE)[::8, ::8])[None]
    ploss = PerceptualLoss(get_features("efficientnet-lite0"), style, DEFAULT_WEIGHTS["content"],
                           DEFAULT_WEIGHTS["style"], DEFAULT_WEIGHTS["tv"])
    x = sample_batch([load_image(p) for p in CONTENT], 4, 64, np.random.default_rng(99))
    vals = []
    for sd in (init, final):
        net = build("fast-tiny")
        net.load_state_dict(sd)
        with torch.no_grad():
            vals.append(float(ploss(net.eval()(x), x)["total"]))
    assert vals[1] < 0.85 * vals[0], vals
    rows = _rows(work / "log.csv")
    assert len(rows) == 3 and rows[-1]["step"] == "20"
    assert (work / "samples" / "final.jpg").stat().st_size > 0
    info = get_model("painted")  # landed in the (temporary) user zoo
    card = json.loads(info.path.with_suffix(".json").read_text())
    assert card["kind"] == "fixed" and card["teacher"] is None
    assert card["training"]["steps"] == 20 and card["training"]["features"] == "efficientnet-lite0"
    assert set(card["training"]["final_losses"]) >= {"content", "style", "tv", "total"}
    out = Stylizer(info).stylize(home_photo[:120, :200])
    assert out.shape == (120, 200, 3) and out.dtype == np.uint8
    assert res["path"] == str(info.path)


def test_resume_reproduces_an_uninterrupted_run(tmp_path):
    kw = dict(FAST, steps=6, out_dir=tmp_path / "out", seed=3)
    train_perceptual(STYLE, "a", workdir=tmp_path / "a", **kw)
    part = train_perceptual(STYLE, "b", workdir=tmp_path / "b", stop_at=3, **kw)
    assert part["steps"] == 3 and "path" not in part  # interrupted: checkpoint only
    with pytest.raises(UserError, match="--resume"):
        train_perceptual(STYLE, "b", workdir=tmp_path / "b", **kw)
    train_perceptual(STYLE, "b", workdir=tmp_path / "b", resume=True, **kw)
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)
    assert a["step"] == b["step"] == 6
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k


def test_bad_inputs_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="not found|no such"):
        train_perceptual(tmp_path / "missing.jpg", "x", steps=1, workdir=tmp_path / "w1", **FAST)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(UserError):
        train_perceptual(bad, "x", steps=1, workdir=tmp_path / "w2", **FAST)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="no usable content"):
        train_perceptual(STYLE, "x", steps=1, workdir=tmp_path / "w3", **dict(FAST, content=[str(empty)]))
    with pytest.raises(UserError, match="smaller than the crop size 1024"):
        train_perceptual(STYLE, "x", steps=1, workdir=tmp_path / "w4", **dict(FAST, size=1024))
    with pytest.raises(UserError, match="unknown architecture"):
        train_perceptual(STYLE, "x", steps=1, workdir=tmp_path / "w5", **dict(FAST, arch="nope"))


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    work = tmp_path / "run"
    train_perceptual(STYLE, "n", steps=4, stop_at=2, workdir=work, **FAST)
    good = (work / "checkpoint.pt").read_bytes()
    with pytest.raises(UserError, match="non-finite at step 2.*last good checkpoint"):
        train_perceptual(STYLE, "n", steps=4, workdir=work, resume=True, style_weight=float("nan"), **FAST)
    assert (work / "checkpoint.pt").read_bytes() == good


def test_cli_reports_errors_in_one_line(tmp_path, capsys):
    from framestyle.cli import main
    rc = main(["train", "--style-image", str(tmp_path / "nope.jpg"), "--steps", "1", "-o", "x"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error:") and "nope.jpg" in err and err.count("\n") == 1
    rc = main(["train", "--style-image", str(STYLE), "--steps", "1", "--features", "vgg99", "-o", "x",
               "--workdir", str(tmp_path / "w"), "--content", *CONTENT])
    assert rc == 2 and "vgg16" in capsys.readouterr().err
    shutil.rmtree(tmp_path / "w", ignore_errors=True)
