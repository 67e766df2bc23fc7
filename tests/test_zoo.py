"""The model registry: teachers, user models, cards, bad model files."""
import json

import numpy as np
import pytest

from framestyle import UserError
from framestyle.zoo import add_user_model, get_model, list_models

from conftest import IMAGES

IMAGES_HOME = IMAGES / "home.jpg"


def test_teachers_listed():
    names = {m.name: m for m in list_models()}
    assert names["multistyle26"].kind == "multi" and names["multistyle26"].path.exists()
    assert names["magenta"].kind == "arbitrary"
    for m in names.values():
        assert m.path.is_absolute() and m.path.is_file(), m


def test_add_user_model_and_lookup(tiny_model, _isolated_home):
    m = add_user_model(tiny_model, "mine", {"kind": "fixed", "teacher": "multistyle26:7"})
    assert m.name == "mine" and not m.builtin
    again = get_model("mine")
    assert again.path == m.path and again.teacher == "multistyle26:7"
    assert any(x.name == "mine" for x in list_models())
    by_path = get_model(str(tiny_model))
    assert by_path.path == tiny_model.resolve()


def test_unknown_model():
    with pytest.raises(UserError, match="unknown model"):
        get_model("no-such-model")


@pytest.mark.parametrize("content", [b"", b"not an onnx file at all", b"\x08\x07" * 50])
def test_corrupt_onnx_rejected(tmp_path, content):
    p = tmp_path / "bad.onnx"
    p.write_bytes(content)
    with pytest.raises(UserError):
        add_user_model(p, "bad")
    from framestyle import Stylizer
    with pytest.raises(UserError):
        Stylizer(str(p)).stylize(np.zeros((32, 32, 3), np.uint8))


def test_truncated_onnx_rejected(tmp_path, tiny_model):
    p = tmp_path / "cut.onnx"
    p.write_bytes(tiny_model.read_bytes()[:3000])
    with pytest.raises(UserError):
        add_user_model(p, "cut")


def test_builtin_cards_complete():
    for m in list_models():
        if not (m.builtin and m.kind == "fixed"):
            continue
        card = m.card
        for key in ("name", "kind", "teacher", "arch", "training", "fidelity"):
            assert key in card, (m.name, key)
        assert card["training"]["command"].startswith("framestyle distill")
        if "derived_from" in card:  # e.g. the int8 built-ins: the quantize command, after the distill command
            assert card["command"].startswith("framestyle quantize") and card["fidelity"]["per_image"]
        assert card["fidelity"]["psnr"] > 10
        assert m.size_bytes < 1_500_000
        json.dumps(m.to_json())


def test_shipped_cards_load_validate_and_round_trip():
    from framestyle.zoo.card import ModelCard
    from framestyle.zoo.registry import BUILTIN_DIR
    from framestyle.zoo.catalogue import ENTRIES
    paths = sorted(BUILTIN_DIR.glob("*.json"))
    assert {p.stem for p in paths} == {e.file for e in ENTRIES}  # every file a name runs, and no other
    for p in paths:
        card = ModelCard.load(p)
        assert card.to_json() == json.loads(p.read_text()), p.name  # nothing lost or invented
        assert card.training.get("command"), p.name


@pytest.mark.parametrize("text, why", [("{not json", "unreadable"), ('{"kind": "banana"}', "kind"),
                                       ('{"kind": "fixed", "fidelity": {"psnr": "high"}}', "psnr"),
                                       ('{"kind": "fixed", "input": {"multiple": 0}}', "multiple")])
def test_broken_user_card_is_one_error_line(tmp_path, tiny_model, _isolated_home, text, why):
    from conftest import run_cli
    add_user_model(tiny_model, "ok-model", {"kind": "fixed"})
    bad = _isolated_home / "models" / "bad-card.onnx"
    bad.write_bytes(tiny_model.read_bytes())
    bad.with_suffix(".json").write_text(text)
    env = {"FRAMESTYLE_HOME": str(_isolated_home)}
    res = run_cli("stylize", IMAGES_HOME, "-o", tmp_path / "o.png", "--model", "bad-card", env=env)
    err = res.stderr.decode().strip().splitlines()
    assert res.returncode == 2 and err[-1].startswith("error:") and "Traceback" not in res.stderr.decode()
    assert "bad-card.json" in err[-1] and why in err[-1], err
    res = run_cli("models", "--json", env=env)  # the listing goes on: the others, and the broken one marked
    items = {m["name"]: m for m in json.loads(res.stdout)}
    assert res.returncode == 0 and items["ok-model"]["broken"] is None and "bad-card.json" in items["bad-card"]["broken"]
    res = run_cli("models", env=env)
    assert res.returncode == 0 and "BROKEN CARD" in res.stdout.decode()
    with pytest.raises(UserError, match="bad-card.json"):
        add_user_model(bad, "again")
