"""Every shipped student: loads, runs at odd sizes, and still matches its teacher as its card says."""
import numpy as np
import pytest

from conftest import IMAGES, builtin_students
from framestyle.zoo import list_models

MODELS = builtin_students()


def test_students_are_shipped():
    assert len(MODELS) >= 6, [m.name for m in MODELS]
    from framestyle.zoo import DEFAULT_MODEL, get_model
    assert get_model(DEFAULT_MODEL).builtin
    assert {m.name for m in MODELS} <= {m.name for m in SHIPPED}  # every shipped student has a card


@pytest.mark.parametrize("model", MODELS, ids=[m.name for m in MODELS])
def test_student_runs_at_odd_size(model):
    from framestyle import Stylizer
    x = np.random.default_rng(0).integers(0, 255, (333, 517, 3), dtype=np.uint8)
    out = Stylizer(model).stylize(x)
    assert out.shape == x.shape and out.std() > 1


@pytest.mark.parametrize("model", MODELS, ids=[m.name for m in MODELS])
def test_student_fidelity_on_a_shared_photo(model):
    from framestyle.imageio import load_image
    from framestyle.metrics.fidelity import psnr
    from framestyle.runtime import Stylizer
    from framestyle.train.data import resize_long
    from framestyle.zoo.teachers import Teacher
    spec = model.teacher
    if spec.startswith("magenta:"):
        from framestyle import UserError
        from framestyle.train.data import find_style_image
        try:
            spec = f"magenta:{find_style_image(spec.split(':', 1)[1])}"
        except UserError as exc:
            pytest.skip(str(exc))
    x = resize_long(load_image(IMAGES / "home.jpg"), 512)
    t = (Teacher(spec)(x) * 255 + 0.5).astype(np.uint8)
    got = psnr(Stylizer(model).stylize(x), t)
    card = next(r["psnr"] for r in model.card["fidelity"]["per_image"] if r["image"] == "home.jpg")
    assert got > card - 0.5, (got, card)


SHIPPED = [m for m in list_models() if m.builtin and m.path.with_suffix(".json").exists()]


@pytest.mark.parametrize("model", SHIPPED, ids=[m.name for m in SHIPPED])
def test_card_commands_are_cli_commands(model):
    """The commands that made a shipped model are real `framestyle` commands, and its card cites no scratch
    script."""
    import argparse
    import json
    from framestyle.cli import build_parser
    card = model.card
    cmds = [c for c in (card.get("training", {}).get("command"), card.get("command")) if c]
    assert cmds, "the card records no command"
    commands = next(a.choices for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for c in cmds:
        words = c.split()
        assert words[0] == "framestyle" and words[1] in commands, c
    assert "scratch" not in json.dumps(card) and "bench/" not in json.dumps(card)
