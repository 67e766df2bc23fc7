"""`framestyle train-paired`: pairs, split, shared transform, loss, validation log, resume, errors."""
import csv
import json
import random

import numpy as np
import pytest
import torch

from framestyle.errors import UserError
from framestyle.imageio import load_image, save_image
from framestyle.train.data import resize_long
from framestyle.train.paired import find_pairs, geometric, split_names, train_paired

from conftest import IMAGES

FAST = dict(arch="fast-tiny", size=48, batch=2, progress=False, sample_every=0, threads=2, features=None)


@pytest.fixture
def pairs_dir(tmp_path):
    """5 real photos (png) and warm-tinted targets (jpg: extensions differ on purpose)."""
    ins, tgs = tmp_path / "inputs", tmp_path / "targets"
    ins.mkdir()
    tgs.mkdir()
    for p in sorted(IMAGES.glob("*.jpg")):
        x = resize_long(load_image(p), 96)
        save_image(x, ins / f"{p.stem}.png")
        save_image((x * np.array([1.0, 0.75, 0.5])).astype(np.uint8), tgs / f"{p.stem}.jpg")
    return ins, tgs


def test_split_is_stable_across_runs_and_orderings():
    stems = [f"frame_{i:04d}" for i in range(300)]
    train, val = split_names(stems, 0.2, seed=0)
    shuffled = stems[:]
    random.Random(1).shuffle(shuffled)
    assert split_names(shuffled, 0.2, seed=0) == (train, val)
    assert split_names(list(reversed(stems)), 0.2, seed=0) == (train, val)
    assert 35 <= len(val) <= 85 and not set(train) & set(val) and len(train) + len(val) == 300
    assert split_names(stems, 0.2, seed=1)[1] != val  # the seed changes it
    # adding files never moves an existing file across the split
    train2, val2 = split_names(stems + [f"extra_{i}" for i in range(50)], 0.2, seed=0)
    assert set(val) <= set(val2) and set(train) <= set(train2)
    assert split_names(["a", "b"], 0.1)[1]  # at least one validation pair
    with pytest.raises(UserError):
        split_names(stems, 1.5)


def test_same_geometric_transform_on_both_images():
    x = resize_long(load_image(IMAGES / "home.jpg"), 200)
    for s in range(5):
        a, b = geometric([x, 255 - x], 64, np.random.default_rng(s))
        assert a.shape == b.shape == (64, 64, 3)
        assert np.abs(a.astype(int) + b.astype(int) - 255).max() <= 1  # same crop, scale, flip
    a1 = geometric([x], 64, np.random.default_rng(7))[0]
    a2 = geometric([x], 64, np.random.default_rng(7))[0]
    assert np.array_equal(a1, a2)


def test_pairs_match_by_stem_and_unpaired_names_are_listed(pairs_dir, tmp_path):
    ins, tgs = pairs_dir
    items = find_pairs(ins, tgs)
    assert [s for s, _, _ in items] == sorted(p.stem for p in IMAGES.glob("*.jpg"))
    assert all(a.suffix == ".png" and b.suffix == ".jpg" for _, a, b in items)
    save_image(load_image(IMAGES / "home.jpg")[:64, :64], ins / "lonely_one.png")
    with pytest.raises(UserError, match="1 input\\(s\\) without a target: lonely_one.png"):
        find_pairs(ins, tgs)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="no images"):
        find_pairs(empty, tgs)


def test_small_pairs_and_budget_errors(pairs_dir, tmp_path):
    ins, tgs = pairs_dir
    with pytest.raises(UserError, match="smaller than the crop size 256.*lower --size"):
        train_paired(ins, tgs, "p", steps=1, workdir=tmp_path / "w", **dict(FAST, size=256))
    with pytest.raises(UserError, match="exactly one"):
        train_paired(ins, tgs, "p", steps=1, epochs=1, workdir=tmp_path / "w", **FAST)


def test_loss_falls_validation_logged_exports_and_runs(pairs_dir, tmp_path, home_photo):
    from framestyle.runtime.stylizer import Stylizer
    ins, tgs = pairs_dir
    res = train_paired(ins, tgs, "tinter", epochs=10, lr=5e-3, val_fraction=0.3, workdir=tmp_path / "run",
                       out_dir=tmp_path / "out", **dict(FAST, features="efficientnet-lite0"))
    rows = list(csv.DictReader(open(tmp_path / "run" / "log.csv")))
    assert min(float(r["l1"]) for r in rows[1:]) < float(rows[0]["l1"]) and float(rows[0]["perceptual"]) > 0
    val = list(csv.DictReader(open(tmp_path / "run" / "val.csv")))
    assert len(val) == 10 and all(float(r["val_psnr"]) > 0 and -1 <= float(r["val_ssim"]) <= 1 for r in val)
    psnrs = [float(r["val_psnr"]) for r in val]
    assert psnrs[-1] > psnrs[0] + 0.5 and psnrs[-1] > max(psnrs[:3]), psnrs
    card = json.loads((tmp_path / "out" / "tinter.json").read_text())
    assert card["kind"] == "fixed" and card["teacher"] is None
    stems = [p.stem for p in ins.iterdir()]
    assert card["training"]["data"]["val"] == split_names(stems, 0.3, 0)[1] == sorted(
        set(stems) - set(split_names(stems, 0.3, 0)[0]))
    out = Stylizer(res["path"]).stylize(home_photo[:100, :140])
    assert out.shape == (100, 140, 3)
    # it learned the tint: blue drops relative to red
    x = home_photo[:100, :140].astype(float)
    assert out[..., 2].mean() / out[..., 0].mean() < 0.9 * x[..., 2].mean() / x[..., 0].mean()


def test_resume_reproduces_and_cli_errors(pairs_dir, tmp_path, capsys):
    ins, tgs = pairs_dir
    kw = dict(FAST, steps=6, out_dir=tmp_path / "out", seed=5)
    train_paired(ins, tgs, "a", workdir=tmp_path / "a", **kw)
    train_paired(ins, tgs, "b", workdir=tmp_path / "b", stop_at=4, **kw)
    train_paired(ins, tgs, "b", workdir=tmp_path / "b", resume=True, **kw)
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    from framestyle.cli import main
    (tgs / "home.jpg").unlink()
    rc = main(["train-paired", "--inputs", str(ins), "--targets", str(tgs), "--steps", "1", "-o", "x",
               "--workdir", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: unpaired") and "home.png" in err
