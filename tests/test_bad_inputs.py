"""Bad input, every command: one `error:` line, exit code 2, no traceback, inputs byte-identical, no stray files.

Table-driven over the classes of issue 18: outputs that would harm an input, names that escape their folder,
unwritable outputs, models that are not style models, numbers out of range, and the one-off cases.
"""
import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import CLIPS, IMAGES, not_a_style_model
from framestyle.cli import main

onnx = pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Real photos, a clip, a bank, a folder whose x.jpg and x.png map to one output, and broken models."""
    from PIL import Image
    w = tmp_path_factory.mktemp("world")
    shutil.copy(IMAGES / "home.jpg", w / "a.jpg")
    Image.open(IMAGES / "aero1.jpg").resize((320, 240)).save(w / "b.png")
    (w / "d").mkdir()
    shutil.copy(w / "a.jpg", w / "d" / "x.jpg")
    shutil.copy(w / "b.png", w / "d" / "x.png")
    shutil.copy(CLIPS / "bottle-detection.mp4", w / "clip.mp4")
    (w / "text.jpg").write_text("this is not a picture\n")
    (w / "garbage.npz").write_bytes(b"PK\x03\x04 not really a zip file at all")
    (w / "file.txt").write_text("a regular file\n")
    (w / "folder.onnx").mkdir()
    not_a_style_model(w / "one_channel.onnx", "grey")
    not_a_style_model(w / "vector.onnx", "vector")
    (w / "corrupt.onnx").write_bytes(b"\x08\x07 truncated protobuf" * 3)
    import cv2
    vw = cv2.VideoWriter(str(w / "zero.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 64))
    vw.release()
    import torch
    from framestyle.export.onnx import export_onnx
    from framestyle.nets import build
    from framestyle.zoo.card import ModelCard, save_card
    torch.manual_seed(0)  # a small float student with its card: every shrink/export command can rebuild it
    kw = {"alpha": 1.0, "blocks": 6}  # ~180 KB: more than the 64 KB disk of test_disk_full
    export_onnx(build("fast", **kw), w / "m.onnx", multiple=4)
    save_card(w / "m.onnx", ModelCard(name="m", kind="fixed", arch="fast", arch_kwargs=kw, teacher="multistyle26:7"))
    return w


def _snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


def _escaped(home: Path) -> list:
    """Files an escaping name would have written next to FRAMESTYLE_HOME or the world folder."""
    return [p for p in (home.parent / "x.onnx", home.parent.parent / "x.onnx", Path("/tmp/x.onnx"))
            if p.exists()]


W = "{w}"
CASES = {
    # outputs that are, or could overwrite, an input of the same run
    "stylize -o input": ["stylize", "{w}/a.jpg", "-o", "{w}/a.jpg"],
    "stylize -o input, other case": ["stylize", "{w}/a.jpg", "-o", "{w}/A.JPG"],
    "stylize folder into itself": ["stylize", "{w}/d", "-o", "{w}/d"],
    "stylize two inputs, image name": ["stylize", "{w}/a.jpg", "{w}/b.png", "-o", "{w}/two.png"],
    "sheet -o input": ["sheet", "{w}/b.png", "--models", "ember", "-o", "{w}/b.png"],
    "video -o input": ["video", "{w}/clip.mp4", "-o", "{w}/clip.mp4"],
    "live sink = source": ["live", "--source", "{w}/clip.mp4", "--sink", "{w}/clip.mp4", "--duration", "1"],
    "batch into its input": ["batch", "{w}/d", "-o", "{w}/d/out"],
    "style embed replaces bank": ["style", "embed", "{w}/a.jpg", "-o", "{w}/bank.npz"],
    "style embed -o input": ["style", "embed", "{w}/a.jpg", "-o", "{w}/a.jpg", "--append"],
    "style blend -o input": ["style", "blend", "{w}/bank.npz", "--weights", "a:1", "-o", "{w}/bank.npz"],
    "export -o source": ["export", "{w}/m.onnx", "-o", "{w}/m.onnx"],
    "models add over a model": ["models", "add", "{w}/m.onnx", "--name", "taken"],
    "quantize over a model": ["quantize", "{w}/m.onnx", "--int8", "-o", "taken"],
    "prune over a model": ["prune", "{w}/m.onnx", "--ratio", "0.5", "-o", "taken"],
    "binarize over a model": ["binarize", "{w}/m.onnx", "-o", "taken"],
    "distill over a model": ["distill", "--teacher", "multistyle26:7", "--steps", "1", "-o", "taken"],
    "train over a model": ["train", "--style-image", "{w}/a.jpg", "--steps", "1", "-o", "taken"],
    "train-paired over a model": ["train-paired", "--inputs", "{w}/d", "--targets", "{w}/d", "-o", "taken"],
    # names that would escape their folder
    "models add ../../x": ["models", "add", "{w}/m.onnx", "--name", "../../x"],
    "models add absolute": ["models", "add", "{w}/m.onnx", "--name", "/tmp/x"],
    "models remove ../../x": ["models", "remove", "../../x"],
    "models remove empty": ["models", "remove", ""],
    "quantize -o ../x": ["quantize", "{w}/m.onnx", "--int8", "-o", "../x"],
    "prune -o a/b": ["prune", "{w}/m.onnx", "--ratio", "0.5", "-o", "a/b"],
    "binarize -o ..": ["binarize", "{w}/m.onnx", "-o", ".."],
    "distill -o ../../x --out-dir": ["distill", "--teacher", "multistyle26:7", "-o", "../../x", "--out-dir", "{w}/D"],
    "train -o /tmp/x": ["train", "--style-image", "{w}/a.jpg", "-o", "/tmp/x"],
    "train-paired -o ../x": ["train-paired", "--inputs", "{w}/d", "--targets", "{w}/d", "-o", "../x"],
    "train-arbitrary -o ../x": ["train-arbitrary", "-o", "../x"],
    "train-adain -o ../x": ["train-adain", "-o", "../x"],
    "style blend --name ../x": ["style", "blend", "{w}/bank.npz", "--weights", "a:1", "-o", "{w}/n.npz",
                                "--name", "../x"],
    # outputs that cannot be written
    "stylize -o /proc": ["stylize", "{w}/a.jpg", "-o", "/proc/x.png"],
    "stylize -o under a file": ["stylize", "{w}/a.jpg", "-o", "{w}/file.txt/x.png"],
    "sheet -o /proc": ["sheet", "{w}/b.png", "--models", "ember", "-o", "/proc/x.png"],
    "video -o /proc": ["video", "{w}/clip.mp4", "-o", "/proc/x.mp4"],
    "video -o under a file": ["video", "{w}/clip.mp4", "-o", "{w}/file.txt/x.mp4"],
    "live -o /proc": ["live", "--source", "{w}/clip.mp4", "--sink", "/proc/x.mp4", "--duration", "1"],
    "batch -o under a file": ["batch", "{w}/d", "-o", "{w}/file.txt/out"],
    "export -o /proc": ["export", "{w}/m.onnx", "-o", "/proc/x.onnx"],
    "export -o a folder": ["export", "{w}/m.onnx", "-o", "{w}/folder.onnx"],
    "style embed -o /proc": ["style", "embed", "{w}/a.jpg", "-o", "/proc/x.npz"],
    "quantize --out-dir a file": ["quantize", "{w}/m.onnx", "--int8", "-o", "q", "--out-dir", "{w}/file.txt"],
    "distill --out-dir a file": ["distill", "--teacher", "multistyle26:7", "-o", "q", "--out-dir", "{w}/file.txt"],
    # models that are not style models (and corrupt ones), refused before any work
    "stylize 1-channel output": ["stylize", "{w}/a.jpg", "-o", "{w}/o1.png", "--model", "{w}/one_channel.onnx"],
    "stylize vector input": ["stylize", "{w}/a.jpg", "-o", "{w}/o2.png", "--model", "{w}/vector.onnx"],
    "video 1-channel output": ["video", "{w}/clip.mp4", "-o", "{w}/o.mp4", "--model", "{w}/one_channel.onnx"],
    "live 1-channel output": ["live", "--source", "{w}/clip.mp4", "--sink", "null", "--model",
                              "{w}/one_channel.onnx", "--duration", "1"],
    "eval temporal 1-channel": ["eval", "temporal", "--model", "{w}/one_channel.onnx", "--frames", "2"],
    "quantize 1-channel": ["quantize", "{w}/one_channel.onnx", "--int8", "-o", "q1"],
    "models add 1-channel": ["models", "add", "{w}/one_channel.onnx"],
    "models add vector": ["models", "add", "{w}/vector.onnx"],
    "batch corrupt model": ["batch", "{w}/d", "-o", "{w}/bout", "--model", "{w}/corrupt.onnx"],
    "batch 1-channel model": ["batch", "{w}/d", "-o", "{w}/bout", "--model", "{w}/one_channel.onnx"],
    "sheet corrupt model": ["sheet", "{w}/b.png", "--models", "{w}/corrupt.onnx", "-o", "{w}/s.png"],
    # conditional models (a style input beside the image) where a one-style net is needed, or int8 already
    "prune a multi-style model": ["prune", "multi26", "--ratio", "0.5", "-o", "q"],
    "binarize an any-painting model": ["binarize", "arbitrary", "-o", "q"],
    "export a multi-style model": ["export", "multi26", "-o", "{w}/e.onnx"],
    "export an any-painting model": ["export", "arbitrary", "--to", "tflite", "--size", "64x64", "-o", "{w}/e.tflite"],
    "quantize a multi-style model": ["quantize", "multi26", "--int8", "-o", "q"],
    "quantize a named style of one": ["quantize", "ember", "--fp16", "-o", "q"],
    # numbers validated at the parser
    "sheet --tile 0": ["sheet", "{w}/b.png", "--tile", "0", "-o", "{w}/s.png"],
    "sheet --tile -1": ["sheet", "{w}/b.png", "--tile", "-1", "-o", "{w}/s.png"],
    "sheet --tile 100000": ["sheet", "{w}/b.png", "--tile", "100000", "-o", "{w}/s.png"],
    "sheet too large": ["sheet", "{w}/b.png", "--tile", "9000", "-o", "{w}/s.png"],
    "export --size huge": ["export", "{w}/m.onnx", "--size", "100000x100000", "-o", "{w}/e.onnx"],
    "export --opset 99": ["export", "{w}/m.onnx", "--opset", "99", "-o", "{w}/e.onnx"],
    "distill --lr nan": ["distill", "--teacher", "multistyle26:7", "--lr", "nan", "-o", "q"],
    "train --lr inf": ["train", "--style-image", "{w}/a.jpg", "--lr", "inf", "-o", "q"],
    "live --duration nan": ["live", "--source", "{w}/clip.mp4", "--sink", "null", "--duration", "nan"],
    "eval temporal --max-size 0": ["eval", "temporal", "--max-size", "0"],
    "stylize --strength nan": ["stylize", "{w}/a.jpg", "-o", "{w}/o.png", "--strength", "nan"],
    "stylize --strength 2": ["stylize", "{w}/a.jpg", "-o", "{w}/o.png", "--strength", "2"],
    "stylize --max-size 0": ["stylize", "{w}/a.jpg", "-o", "{w}/o.png", "--max-size", "0"],
    "video --stabilize 5": ["video", "{w}/clip.mp4", "-o", "{w}/o.mp4", "--stabilize", "5"],
    "batch --strength -1": ["batch", "{w}/d", "-o", "{w}/bout", "--strength", "-1"],
    "bench --runs 0": ["bench", "--runs", "0"],
    "serve --port 99999": ["serve", "--port", "99999"],
    "prune --ratio 1": ["prune", "{w}/m.onnx", "--ratio", "1", "-o", "q"],
    # the one-off cases
    "style bank garbage": ["stylize", "{w}/a.jpg", "-o", "{w}/o.png", "--style-bank", "{w}/garbage.npz"],
    "style bank garbage + method": ["stylize", "{w}/a.jpg", "-o", "{w}/o.png", "--style-bank", "{w}/garbage.npz",
                                    "--method", "student"],
    "text file named .jpg": ["stylize", "{w}/text.jpg", "-o", "{w}/o.png"],
    "0-frame video": ["video", "{w}/zero.avi", "-o", "{w}/o.mp4"],
    "batch one file": ["batch", "{w}/a.jpg", "-o", "{w}/bout"],
    "sheet --models magenta": ["sheet", "{w}/b.png", "--models", "magenta", "-o", "{w}/s.png"],
    "export -o x.png": ["export", "{w}/m.onnx", "-o", "{w}/x.png"],
}
MUST_SAY = {  # cases whose message must carry a specific hint
    "style bank garbage": "garbage.npz", "style bank garbage + method": "garbage.npz",
    "0-frame video": "no frames", "batch one file": "framestyle stylize", "export -o x.png": ".onnx",
    "style embed replaces bank": "--append", "models add over a model": "--force",
    "distill over a model": "--force", "stylize two inputs, image name": "folder",
    "prune a multi-style model": "ember, pastel", "binarize an any-painting model": "style beside the image",
    "export a multi-style model": "ember, pastel", "export an any-painting model": "style beside the image",
    "quantize a multi-style model": "int8 already", "quantize a named style of one": "int8 already",
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(case, world, capsys, _isolated_home):
    from framestyle.paths import user_models_dir
    zoo = user_models_dir()
    shutil.copy(world / "m.onnx", zoo / "taken.onnx")
    if not (world / "bank.npz").exists():
        from framestyle.zoo.styles import STYLE_DIM, StyleBank, save_bank
        save_bank(StyleBank(["a"], np.ones((1, STYLE_DIM), np.float32), ["0" * 64], ["a.jpg"]), world / "bank.npz")
    before, zoo_before = _snapshot(world), _snapshot(zoo)
    argv = [a.replace(W, str(world)) for a in CASES[case]]
    rc = main(argv)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2, (case, rc, err)
    assert len(lines) == 1 and lines[0].startswith("error:"), (case, err)
    assert "Traceback" not in err and "<_io." not in err, err
    if case in MUST_SAY:
        assert MUST_SAY[case] in lines[0], lines[0]
    assert _snapshot(world) == before, f"{case}: files in the world folder changed"
    assert _snapshot(zoo) == zoo_before, f"{case}: the user zoo changed"
    assert not _escaped(_isolated_home)
    assert not [p for p in _isolated_home.rglob("*") if ".part" in p.name]


def test_every_command_is_covered():
    """Each class above names every command that writes a file or loads a model."""
    writers = {"stylize", "sheet", "video", "live", "batch", "style", "export", "models", "quantize", "prune",
               "binarize", "distill", "train", "train-paired", "train-arbitrary", "train-adain", "eval"}
    assert writers <= {argv[0] for argv in CASES.values()}


def test_sixteen_bit_and_palette_images_decode(world, tmp_path):
    """16-bit greyscale PNG/TIFF, 16-bit RGB, palette and greyscale decode to the 8-bit picture, not white."""
    import cv2
    import skimage.data
    from PIL import Image
    from framestyle.imageio import load_image
    cam, astro = skimage.data.camera(), skimage.data.astronaut()
    cv2.imwrite(str(tmp_path / "g16.png"), cam.astype(np.uint16) * 257)
    cv2.imwrite(str(tmp_path / "g16.tif"), cam.astype(np.uint16) * 257)
    cv2.imwrite(str(tmp_path / "rgb16.png"), np.ascontiguousarray(astro[:, :, ::-1]).astype(np.uint16) * 257)
    Image.fromarray(cam).convert("P").save(tmp_path / "pal.png")
    Image.fromarray(cam.astype(np.int32) * 257, "I").save(tmp_path / "i32.tif")
    for name, ref in [("g16.png", cam), ("g16.tif", cam), ("rgb16.png", astro), ("pal.png", cam), ("i32.tif", cam)]:
        got = load_image(tmp_path / name)
        want = np.repeat(ref[:, :, None], 3, 2) if ref.ndim == 2 else ref
        assert got.shape == want.shape and np.abs(got.astype(int) - want).max() <= 1, name
    # and end to end: a 16-bit greyscale photo stylises like its 8-bit copy
    cv2.imwrite(str(tmp_path / "home16.png"), cv2.cvtColor(load_image(IMAGES / "home.jpg"), cv2.COLOR_RGB2GRAY)
                .astype(np.uint16) * 257)
    assert main(["stylize", str(tmp_path / "home16.png"), "-o", str(tmp_path / "o.png"), "--model", "ember"]) == 0
    assert load_image(tmp_path / "o.png").mean() < 200


def test_several_inputs_to_a_new_folder_name(world, tmp_path, capsys):
    """A name without an image suffix becomes the output folder; x.jpg and x.png both get their own output."""
    out = tmp_path / "two"
    assert main(["stylize", str(world / "d"), "-o", str(out), "--model", "ember", "--json"]) == 0
    recs = __import__("json").loads(capsys.readouterr().out)
    assert sorted(p.name for p in out.iterdir()) == ["x-1.png", "x.png"]
    assert all(r["ok"] and r["load_ms"] > 0 and r["ms"] > 0 for r in recs)
    assert not os.path.exists(tmp_path / "two.png")


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KB tmpfs: writing any real output fills it (needs root; skipped elsewhere)."""
    import subprocess
    d = tmp_path / "full"
    d.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(d)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (not root)")
    yield d
    subprocess.run(["umount", str(d)], capture_output=True)


@pytest.mark.parametrize("argv", [
    ["stylize", "{w}/a.jpg", "--model", "ember", "-o", "{full}/x.png"],
    ["sheet", "{w}/b.png", "--models", "ember", "-o", "{full}/x.png"],
    ["video", "{w}/clip.mp4", "--model", "ember", "--max-size", "128", "-o", "{full}/x.mp4"],
    ["export", "{w}/m.onnx", "-o", "{full}/x.onnx"],
], ids=["stylize", "sheet", "video", "export"])
def test_disk_full(argv, world, full_disk, capsys):
    """No space left: one error line, exit 2, and no temp file left on the full disk."""
    rc = main([a.replace("{w}", str(world)).replace("{full}", str(full_disk)) for a in argv])
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip().startswith(("error", "Traceback"))]
    assert rc == 2 and len(lines) == 1 and "No space left" in lines[0], lines
    assert list(full_disk.iterdir()) == []
