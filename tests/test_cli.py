"""The CLI end to end, including every bad input: one `error:` line, exit 2, nothing overwritten."""
import json
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from conftest import IMAGES, run_cli


def _one_error_line(res):
    err = res.stderr.decode().strip().splitlines()
    assert res.returncode == 2, (res.returncode, res.stderr.decode())
    assert err and err[-1].startswith("error:"), err
    assert "Traceback" not in res.stderr.decode()


@pytest.fixture
def small_photo(tmp_path):
    p = tmp_path / "photo.jpg"
    Image.open(IMAGES / "home.jpg").resize((160, 120)).save(p)
    return p


def test_models_json_fields():
    res = run_cli("models", "--json")
    assert res.returncode == 0
    items = json.loads(res.stdout)
    assert any(m["name"] == "multistyle26" for m in items)
    for m in items:
        assert {"name", "kind", "path", "builtin", "teacher", "size_bytes"} <= set(m)
        assert m["kind"] in ("fixed", "multi", "arbitrary")
        assert m["path"].startswith("/") and m["size_bytes"] > 0


def test_stylize_file_and_json(tmp_path, small_photo, tiny_model):
    out = tmp_path / "out.png"
    res = run_cli("stylize", small_photo, "-o", out, "--model", tiny_model, "--json")
    assert res.returncode == 0, res.stderr.decode()
    rec = json.loads(res.stdout)
    assert rec["ok"] and rec["output"] == str(out)
    assert Image.open(out).size == (160, 120)



def test_stylize_default_is_the_catalogue_default(tmp_path, small_photo):
    """No --model: the one default (the same for live, video, batch, the API and the page: test_catalogue)."""
    from framestyle.zoo import default_model, get_model
    out = tmp_path / "out.png"
    res = run_cli("stylize", small_photo, "-o", out, "--json")
    assert res.returncode == 0, res.stderr.decode()
    assert json.loads(res.stdout)["model"] == default_model()
    info = get_model(default_model())
    assert info.builtin and info.kind == "fixed" and info.card["arch"] in ("mg", "ms26")
    assert np.asarray(Image.open(out)).std() > 5

def test_stylize_teacher_blend_strength_preserve(tmp_path, small_photo):
    out = tmp_path / "o.jpg"
    res = run_cli("stylize", small_photo, "-o", out, "--model", "multistyle26", "--style", "3:0.5,12:0.5",
                  "--strength", "0.7", "--preserve-color")
    assert res.returncode == 0, res.stderr.decode()
    assert Image.open(out).size == (160, 120)


def test_stylize_folder_continues_past_bad_file(tmp_path, small_photo, tiny_model):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    Image.open(small_photo).save(src / "a.png")
    Image.open(small_photo).save(src / "sub" / "b.jpg")
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    out = tmp_path / "out"
    res = run_cli("stylize", src, "-o", out, "--model", tiny_model, "--json")
    assert res.returncode == 2
    recs = json.loads(res.stdout)
    assert sorted(r["ok"] for r in recs) == [False, True, True]
    assert (out / "a.png").exists() and (out / "sub" / "b.png").exists()
    assert "broken.jpg" in res.stderr.decode()
    assert not list(out.rglob("*.part"))


def test_stdin_stdout(small_photo, tiny_model):
    res = run_cli("stylize", "-", "-o", "-", "--model", tiny_model, input=small_photo.read_bytes())
    assert res.returncode == 0, res.stderr.decode()
    assert res.stdout[:8] == b"\x89PNG\r\n\x1a\n"


def test_glob_and_max_size(tmp_path, small_photo, tiny_model):
    for n in range(2):
        Image.open(IMAGES / "leuvenA.jpg").save(tmp_path / f"g{n}.jpg")
    res = run_cli("stylize", str(tmp_path / "g*.jpg"), "-o", tmp_path / "o", "--model", tiny_model,
                  "--max-size", "200", "--json")
    assert res.returncode == 0, res.stderr.decode()
    for r in json.loads(res.stdout):
        assert max(r["width"], r["height"]) == 200


def _huge_png(path, w=20000, h=20000):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100))
                     + chunk(b"IEND", b""))


def _bad_inputs(tmp_path, small_photo):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    trunc = tmp_path / "trunc.jpg"
    trunc.write_bytes(small_photo.read_bytes()[:400])
    text = tmp_path / "notes.png"
    text.write_text("hello, I am not an image")
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (8, 40)).save(tiny)
    huge = tmp_path / "huge.png"
    _huge_png(huge)
    return {"missing": tmp_path / "nope.jpg", "empty": empty, "truncated": trunc, "not-image": text,
            "too-small": tiny, "too-large": huge}


@pytest.mark.parametrize("case", ["missing", "empty", "truncated", "not-image", "too-small", "too-large"])
def test_bad_input_files(tmp_path, small_photo, tiny_model, case):
    bad = _bad_inputs(tmp_path, small_photo)[case]
    out = tmp_path / "out.png"
    res = run_cli("stylize", bad, "-o", out, "--model", tiny_model)
    _one_error_line(res)
    assert not out.exists()


def test_output_equal_to_input_is_refused(tmp_path, small_photo, tiny_model):
    before = small_photo.read_bytes()
    res = run_cli("stylize", small_photo, "-o", small_photo, "--model", tiny_model)
    _one_error_line(res)
    assert small_photo.read_bytes() == before


@pytest.mark.parametrize("args", [["--strength", "1.5"], ["--strength", "abc"], ["--model", "no-such"],
                                  ["--model", "multistyle26", "--style", "40"]])
def test_bad_options(tmp_path, small_photo, args):
    res = run_cli("stylize", small_photo, "-o", tmp_path / "o.png", *args)
    _one_error_line(res)


def test_corrupt_onnx_model(tmp_path, small_photo):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage" * 10)
    res = run_cli("stylize", small_photo, "-o", tmp_path / "o.png", "--model", bad)
    _one_error_line(res)
    res = run_cli("models", "add", bad)
    _one_error_line(res)


def test_sheet_and_bench_and_info(tmp_path, small_photo, tiny_model):
    out = tmp_path / "sheet.png"
    res = run_cli("sheet", small_photo, "-o", out, "--tile", "64", "--models", f"{tiny_model},multistyle26", "--json")
    assert res.returncode == 0, res.stderr.decode()
    rec = json.loads(res.stdout)
    assert rec["tiles"] == 1 + 1 + 26 and rec["labels"][2:4] == ["multistyle26 --style 0", "multistyle26 --style 1"]
    res = run_cli("bench", "--json", "--models", f"{tiny_model},multistyle26,peer:multistyle26-raw",
                  "--sizes", "64x48", "--runs", "2", "--warmup", "1")
    assert res.returncode == 0, res.stderr.decode()
    rows = json.loads(res.stdout)
    assert len(rows) == 3
    for r in rows:
        assert {"model", "width", "height", "ms_median", "ms_p90", "fps"} <= set(r)
        assert r["ms_median"] > 0 and r["width"] == 64
        assert r["runs"] == 2 and r["rounds"] == 2  # the default 4 rounds, capped at the number of runs
    res = run_cli("bench", "--json", "--models", tiny_model, "--sizes", "64x48", "--runs", "5", "--rounds", "1")
    assert res.returncode == 0 and json.loads(res.stdout)[0]["runs"] == 5
    res = run_cli("bench", "--models", tiny_model, "--rounds", "0")
    assert res.returncode == 2 and res.stderr.decode().startswith("error:")
    assert run_cli("info", "--json").returncode == 0
