"""`distill --init MODEL` from a fixed student of the teacher's own style: an ms26 one (its up-path's norms folded)
and an mg one, as it is or with its stem cut to 3x3 (`--arch-arg stem=phase3`), started near its card's score."""
import json

import pytest
from PIL import Image

from conftest import IMAGES


def _content(tmp_path):
    d = tmp_path / "content"
    d.mkdir()
    for n in ("aero1.jpg", "leuvenA.jpg", "home.jpg"):
        Image.open(IMAGES / n).convert("RGB").resize((128, 96)).save(d / n.replace(".jpg", ".png"))
    return [str(d)]


def _run(tmp_path, teacher, init, **kw):
    from framestyle.train.distill import distill
    distill(teacher, "s", content=_content(tmp_path), steps=1, batch=2, lr=1e-9, workdir=tmp_path / "w",
            out_dir=tmp_path / "out", progress=False, threads=2, init=init, **kw)
    return json.loads((tmp_path / "out" / "s.json").read_text())


def test_init_from_an_ms26_student_folds_its_up_path(tmp_path):
    """--init pastel --teacher multistyle26:12: pastel's weights, its 3 up-path norms folded (fold=head), starting
    within a dB of pastel's own card."""
    from framestyle.zoo import get_model
    card = _run(tmp_path, "multistyle26:12", "pastel")
    assert card["arch"] == "ms26" and card["arch_kwargs"]["fold"] == "head"
    start = card["training"]["start"]
    assert start["norms_folded"] == 3
    assert abs(start["heldout_psnr"] - get_model("pastel").fidelity["psnr"]) < 1.0, start


def test_init_from_an_mg_student_with_a_cut_stem(tmp_path):
    """--init starry (int8) --arch-arg stem=phase3: starry's weights dequantised, its 5x5 stem conv cut to 3x3 and
    fitted to its own stem, starting within 2.5 dB of starry's card (a 1/4-size stem fit here)."""
    from framestyle.zoo import get_model
    teacher = "magenta:" + str(IMAGES / "starry_night.jpg")
    card = _run(tmp_path, teacher, "starry", arch_kwargs={"stem": "phase3"})
    assert card["arch"] == "mg" and card["arch_kwargs"]["stem"] == "phase3" and card["arch_kwargs"]["fold"] == "half"
    start = card["training"]["start"]
    assert start["stem_fit_steps"] > 0 and start["heldout_psnr"] > get_model("starry").fidelity["psnr"] - 2.5, start


def test_init_from_an_mg_student_as_it_is(tmp_path):
    """Without a change the int8 student's dequantised weights score about what its card says."""
    from framestyle.zoo import get_model
    teacher = "magenta:" + str(IMAGES / "starry_night.jpg")
    card = _run(tmp_path, teacher, "starry")
    assert card["arch_kwargs"] == get_model("starry").card["arch_kwargs"]
    assert abs(card["training"]["start"]["heldout_psnr"] - get_model("starry").fidelity["psnr"]) < 1.0


@pytest.mark.parametrize("teacher,init,kw,msg", [
    ("multistyle26:5", "pastel", {}, "own style"),                    # pastel is style 12
    ("magenta:graf1.png", "starry", {}, "own style"),                 # another painting
    ("STARRY", "starry", {"arch_kwargs": {"up": "8,4"}}, "keeps MODEL's shape"),
])
def test_init_refuses_another_style_or_shape(tmp_path, teacher, init, kw, msg):
    from framestyle.errors import UserError
    from framestyle.train.distill import distill
    from framestyle.train.data import find_style_image
    teacher = {"STARRY": "magenta:" + str(IMAGES / "starry_night.jpg")}.get(teacher, teacher)
    if teacher.startswith("magenta:") and "/" not in teacher:
        teacher = "magenta:" + str(find_style_image(teacher[8:]))
    with pytest.raises(UserError, match=msg):
        distill(teacher, "s", content=[str(tmp_path)], steps=1, workdir=tmp_path / "w", out_dir=tmp_path / "out",
                progress=False, init=init, **kw)
