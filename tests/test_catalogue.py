"""The catalogue: one default for every entry point, one rule for a style image, old names, style entries."""
import json

import numpy as np
import pytest
from PIL import Image

from conftest import CLIPS, IMAGES, run_cli
from framestyle import UserError
from framestyle.zoo import default_model, get_model, list_models, pick_model
from framestyle.zoo.catalogue import ALIASES, ENTRIES, METHOD_MODELS


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("photos")
    Image.open(IMAGES / "home.jpg").resize((128, 96)).save(d / "a.jpg")
    return d


def test_the_default_is_the_realtime_int8_starry():
    m = get_model(default_model())
    assert m.builtin and m.kind == "fixed" and m.card.method == "int8" and m.teacher.startswith("magenta:")
    assert get_model().name == m.name and m.card.speed["class"] == "real time"
    assert [x.name for x in list_models() if x.to_json()["default"]] == [m.name]


def test_every_entry_point_runs_the_same_default(tmp_path, photo_dir):
    """API, stylize, batch, video, live, the web server's rule and `info` resolve the one default."""
    from framestyle import Stylizer
    from framestyle.batch import BatchOptions, run_batch
    from framestyle.web.methods import resolve
    want = default_model()
    assert Stylizer().info.name == want
    assert resolve(None, None, False).name == want
    assert run_batch(str(photo_dir), tmp_path / "b", BatchOptions(), workers=1, progress=False).model == want
    got = {}
    r = run_cli("stylize", photo_dir / "a.jpg", "-o", tmp_path / "s.png", "--json")
    got["stylize"] = json.loads(r.stdout)["model"]
    r = run_cli("batch", photo_dir, "-o", tmp_path / "cb", "--workers", "1", "--json")
    got["batch"] = json.loads(r.stdout)["model"]
    clip = str(CLIPS / "asl_gestures_walk.mkv")
    r = run_cli("live", "--source", clip, "--sink", "null", "--max-size", "96", "--duration", "1", "--json")
    got["live"] = json.loads(r.stdout)["model"]
    from test_video import make_clip
    make_clip(tmp_path / "c.mp4", frames=6)
    r = run_cli("video", tmp_path / "c.mp4", "-o", tmp_path / "v.mp4", "--json")
    got["video"] = json.loads(r.stdout)["model"]
    r = run_cli("info", "--json")
    got["info"] = json.loads(r.stdout)["default_model"]
    assert got == dict.fromkeys(got, want), got


def test_one_rule_for_a_style_image_and_methods():
    from framestyle.web.methods import resolve
    starry = IMAGES / "starry_night.jpg"
    assert pick_model(None, starry) == METHOD_MODELS["magenta"] == resolve(None, None, True).name
    for meth, name in METHOD_MODELS.items():
        assert pick_model(None, starry, meth) == name
        assert get_model(name).card.get("method", "magenta") == meth
    assert pick_model("x.onnx", starry, "student") == "x.onnx"
    with pytest.raises(UserError, match="unknown method"):
        pick_model(None, None, "nope")


def test_every_catalogue_entry_resolves_and_old_names_say_so(tmp_path, photo_dir):
    names = {m.name for m in list_models()}
    for e in ENTRIES:
        assert e.name in names and e.use
    for old, new in ALIASES.items():
        assert old not in names and get_model(old).name == new
    r = run_cli("stylize", photo_dir / "a.jpg", "-o", tmp_path / "o.png", "--model", "starry-fast", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["model"] == "starry"
    assert r.stderr.decode().strip().splitlines() == ["note: model 'starry-fast' is now 'starry'"]


def test_a_style_entry_runs_one_style_of_a_multi_style_file(monkeypatch, home_photo, tmp_path):
    """The multi26 switch: an entry naming a multi-style file + a style runs exactly that style."""
    from framestyle import Stylizer
    from framestyle.zoo import catalogue, registry
    from framestyle.zoo.teachers import peer_model_path
    (tmp_path / "m26.onnx").write_bytes(peer_model_path("multistyle26.onnx").read_bytes())
    (tmp_path / "m26.json").write_text(json.dumps({"name": "m26", "kind": "multi", "styles": 26, "teacher":
                                                   "multistyle26", "input": {"multiple": 4}}))
    monkeypatch.setattr(registry, "BUILTIN_DIR", tmp_path)
    monkeypatch.setattr(registry, "ENTRIES", (catalogue.Entry("seven", "m26", "7", use="test"),))
    m = get_model("seven")
    assert (m.kind, m.style, m.styles, m.teacher) == ("multi", "7", 1, "multistyle26:7")
    assert get_model("m26").styles == 26  # the file itself is listed under its own name
    x = home_photo[:96, :128]
    assert np.array_equal(Stylizer(m).stylize(x), Stylizer("multistyle26", style=7).stylize(x))
    assert m.to_json()["styles"] == 1 and m.to_json()["style"] == "7"


def test_models_table_has_a_header_and_marks_the_default():
    r = run_cli("models")
    lines = r.stdout.decode().splitlines()
    assert r.returncode == 0 and lines[0].split()[:3] == ["name", "styles", "kind"]
    assert "720p speed" in lines[0] and "vs teacher" in lines[0]
    assert any(ln.startswith(default_model() + " *") for ln in lines)
    items = json.loads(run_cli("models", "--json").stdout)
    for it in items:
        assert {"name", "kind", "path", "builtin", "teacher", "size_bytes", "styles", "speed_720p",
                "fidelity_psnr", "use", "default"} <= set(it)


def test_the_sheet_shows_every_builtin_style_by_the_name_to_pass(home_photo):
    """The gallery (an API function; `framestyle sheet` and scripts/make_hero.py draw with it): the photo, then
    every named style that needs no style image, each tile labelled with what --model takes."""
    from framestyle import Stylizer
    from framestyle.metrics.fidelity import psnr
    from framestyle.runtime.sheet import make_sheet
    x = home_photo[:96, :128]
    img, labels = make_sheet(x, tile=128, cols=4)
    want = []
    for m in list_models():
        if m.builtin and m.kind != "arbitrary" and m.card.get("role") != "teacher":
            multi = m.kind == "multi" and m.style is None  # a named style (ember) is one tile under its name
            want += [f"{m.name} --style {i}" for i in range(m.styles)] if multi else [m.name]
    assert labels[0] == "original" and labels[1:] == want and default_model() in want
    assert img.shape[0] > 2 * 96 and img.shape[1] > 4 * 128 and img.dtype == np.uint8
    # the tile labelled with the default is what the default gives (first row, second tile)
    tile = img[6 + 18:6 + 18 + 96, 6 + 128 + 6:6 + 128 + 6 + 128]
    assert psnr(tile, Stylizer(default_model()).stylize(x)) > 40
