"""`distill --init MODEL` from a fixed student of the teacher's own style: an ms26 one (its up-path's norms folded)
and an mg one, as it is or with its stem cut to 3x3 (`--arch-arg stem=phase3`), started near its card's score."""
import json

import pytest
from PIL import Image

from conftest import IMAGES


def _content(tmp_path):
    d = tmp_path / "content"
    d.mkdir(parents=True)
    for n in ("aero1.jpg", "leuvenA.jpg", "home.jpg"):
        Image.open(IMAGES / n).convert("RGB").resize((128, 96)).save(d / n.replace(".jpg", ".png"))
    return [str(d)]


def _run(tmp_path, teacher, init, **kw):
    from framestyle.train.distill import distill
    distill(teacher, "s", content=_content(tmp_path), steps=1, batch=2, lr=1e-9, workdir=tmp_path / "w",
            out_dir=tmp_path / "out", progress=False, threads=2, init=init, **kw)
    return json.loads((tmp_path / "out" / "s.json").read_text())


def test_init_from_an_ms26_student_folds_its_up_path(tmp_path):
    """--init a float ms26 student --teacher multistyle26:12: its weights, its 3 up-path norms folded (fold=head),
    starting within a dB of its own score (how the named ms26 styles were made until session 13); its output, folded
    already, starts another fine-tune as it is."""
    from framestyle.train.distill import distill
    src = distill("multistyle26:12", "f", arch="ms26", arch_kwargs={"blocks": 2, "stem_fit": 30},
                  content=_content(tmp_path / "a"), steps=30, batch=2, lr=5e-4, workdir=tmp_path / "w0",
                  out_dir=tmp_path / "zoo", progress=False, threads=2)
    card = _run(tmp_path, "multistyle26:12", src["path"])
    assert card["arch"] == "ms26" and card["arch_kwargs"]["fold"] == "head" and card["arch_kwargs"]["blocks"] == 2
    start = card["training"]["start"]
    assert start["norms_folded"] == 3
    assert abs(start["heldout_psnr"] - src["fidelity"]["psnr"]) < 1.0, (start, src["fidelity"]["psnr"])
    again = _run(tmp_path / "b", "multistyle26:12", str(tmp_path / "out" / "s.onnx"))  # folded already: as it is
    assert again["arch_kwargs"] == card["arch_kwargs"] and "norms_folded" not in again["training"]["start"]
    assert abs(again["training"]["start"]["heldout_psnr"] - card["fidelity"]["psnr"]) < 1.0


def test_init_from_the_named_pastel_starts_at_its_multi26_style(tmp_path):
    """pastel is multi26's style 12: --init pastel starts that style's fixed net (multi-rt-fixed, the graph the
    runtime runs for it), scoring about the card's figure for that style."""
    from framestyle.zoo import get_model
    card = _run(tmp_path, "multistyle26:12", "pastel")
    assert card["arch"] == "multi-rt-fixed" and card["arch_kwargs"] == get_model("pastel").card["arch_kwargs"]
    assert abs(card["training"]["start"]["heldout_psnr"] - get_model("pastel").fidelity["psnr"]) < 1.0


def test_init_from_an_mg_student_with_a_cut_stem(tmp_path):
    """--init graffiti (int8, phase stem) --arch-arg stem=phase3: its weights dequantised, its 5x5 stem conv cut to
    3x3 and fitted to its own stem, starting within 2.5 dB of its card (a small stem fit here). (The shipped
    `starry` was made this way; its stem is 3x3 already, so it cannot be cut again.)"""
    from framestyle.errors import UserError
    from framestyle.train.data import find_style_image
    from framestyle.zoo import get_model
    teacher = "magenta:" + str(find_style_image("graf1.png"))
    card = _run(tmp_path, teacher, "graffiti", arch_kwargs={"stem": "phase3"})
    assert card["arch"] == "mg" and card["arch_kwargs"]["stem"] == "phase3" and card["arch_kwargs"]["fold"] == "head"
    start = card["training"]["start"]
    assert start["stem_fit_steps"] > 0 and start["heldout_psnr"] > get_model("graffiti").fidelity["psnr"] - 2.5, start
    assert get_model("starry").card["arch_kwargs"]["stem"] == "phase3"
    with pytest.raises(UserError, match="phase stem"):
        _run(tmp_path / "again", "magenta:" + str(IMAGES / "starry_night.jpg"), "starry",
             arch_kwargs={"stem": "phase3"})


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
    assert not (tmp_path / "w").exists()  # refused before the run's folder was made


def test_train_arbitrary_refuses_a_bad_init_before_making_its_folder(tmp_path):
    """train-arbitrary --init with a fixed student (not a cond-mg export): one UserError, no run folder left."""
    from framestyle.errors import UserError
    from framestyle.train.arbitrary import train_arbitrary
    with pytest.raises(UserError, match="--init starry"):
        train_arbitrary("x", arch="cond-mg", steps=1, workdir=tmp_path / "w", progress=False, init="starry")
    assert not (tmp_path / "w").exists()
