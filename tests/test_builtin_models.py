"""Every shipped student: loads, runs at odd sizes, and still matches its teacher as its card says."""
import numpy as np
import pytest

from conftest import IMAGES, builtin_students
from framestyle.zoo import list_models

MODELS = builtin_students()


def test_students_are_shipped():
    assert len(MODELS) >= 6, [m.name for m in MODELS]
    from framestyle.zoo import default_model, get_model
    from framestyle.zoo.catalogue import ENTRIES
    assert get_model(default_model()).builtin
    names = {m.name for m in MODELS}
    assert {e.name for e in ENTRIES if get_model(e.name).kind == "fixed" or get_model(e.name).style is not None} == names  # one per named style


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
    if "per_image" not in model.fidelity:  # a named style of a multi-style file: its style's mean on the 4 photos
        from framestyle.train.data import held_out_images
        photos, card = [resize_long(load_image(p), 512) for p in held_out_images()], model.fidelity["psnr"]
        assert len(photos) == model.card.fidelity["images"]
    else:
        photos = [resize_long(load_image(IMAGES / "home.jpg"), 512)]
        card = next(r["psnr"] for r in model.fidelity["per_image"] if r["image"] == "home.jpg")
    st = Stylizer(model)
    got = np.mean([psnr(st.stylize(x), (Teacher(spec)(x) * 255 + 0.5).astype(np.uint8)) for x in photos])
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
    assert "scratch" not in json.dumps(card.to_json() if hasattr(card, "to_json") else card)
def test_catalogue_doc_is_current():
    """docs/catalogue.md is what bench/catalogue.py makes from today's cards and docs/benchmarks.json."""
    import json
    import sys
    from conftest import ROOT
    sys.path.insert(0, str(ROOT / "bench"))
    import catalogue
    from framestyle.zoo import list_models
    bench = json.loads((ROOT / "docs" / "benchmarks.json").read_text())
    want = catalogue.render([m for m in list_models() if m.builtin], bench, "docs/benchmarks.json")
    assert (ROOT / "docs" / "catalogue.md").read_text() == want, "run: python bench/catalogue.py"


@pytest.mark.parametrize("model", MODELS, ids=[m.name for m in MODELS])
def test_card_speed_is_from_a_bench_run_beside_the_peer(model):
    sp = model.card.speed
    assert sp["class"] in ("real time", "interactive", "slow") and sp["x_peer_1280x720"] > 1
    assert "bench/run_bench.py" in sp["source"] and sp["fps_1280x720"] > 0
