"""Batch stylisation: resumable after kill -9, bad inputs recorded, re-runs skip verified outputs."""
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import IMAGES, SHARED, needs_images
from framestyle.batch import MANIFEST_NAME, BatchOptions, run_batch
from framestyle.errors import UserError


def make_tree(root: Path, n: int = 40, size=(96, 72)) -> Path:
    """n small real photos (crops of the shared images and skimage photos) in a 3-level tree, png and jpg."""
    from skimage import data
    photos = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(IMAGES.glob("*.jpg"))]
    photos += [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()]
    for d in ("", "sub", "sub/deep"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for k in range(n):
        im = photos[k % len(photos)]
        h, w = im.shape[:2]
        j = k // len(photos)
        crop = im[(j * h) // 9:(j * h) // 9 + h // 2, (j * w) // 11:(j * w) // 11 + w // 2]
        crop = Image.fromarray(np.ascontiguousarray(crop)).resize(size, Image.BILINEAR)
        folder = root / ("", "sub", "sub/deep")[k % 3]
        crop.save(folder / f"img{k:02d}.{'jpg' if k % 2 else 'png'}")
    (root / "README.txt").write_text("not an image, ignored")
    return root


def tiny_model(path: Path) -> Path:
    from framestyle.export.onnx import export_onnx
    from framestyle.nets import build
    import torch
    torch.manual_seed(0)
    export_onnx(build("fast", alpha=0.34, blocks=2), path)
    return path


def sha_tree(out: Path) -> dict:
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file() and not p.name.startswith(".framestyle-batch")}


MAIN = [sys.executable, "-c", "import sys; from framestyle.cli import main; sys.exit(main())", "batch"]


def cli(*args, **kw):
    return subprocess.run([*MAIN, *map(str, args)], capture_output=True, text=True, timeout=120, **kw)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    base = tmp_path_factory.mktemp("batch")
    return {"base": base, "tree": make_tree(base / "in"), "model": tiny_model(base / "m.onnx")}


@pytest.fixture(autouse=True)
def fs_home(tmp_path, monkeypatch):
    monkeypatch.setenv("FRAMESTYLE_HOME", str(tmp_path / "fshome"))


def _children(pid: int) -> list:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if f"PPid:\t{pid}\n" in (d / "status").read_text():
                    out.append(int(d.name))
            except OSError:
                pass
    return out


@needs_images
def test_kill9_then_resume_gives_the_exact_output_set(work, tmp_path):
    # a slower tree (multistyle26 at 192 px, 1 worker) so the kills land mid-job
    tree = make_tree(tmp_path / "in", n=40, size=(192, 144))
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    ref = run_batch(str(tree), clean, BatchOptions(model="multistyle26", style="7"), workers=1, progress=False)
    assert (ref.done, ref.failed) == (40, 0)
    env = dict(os.environ)
    kills = 0
    for target in (4, 14, 26):
        proc = subprocess.Popen([*MAIN, str(tree), "-o", str(killed),
                                 "--model", "multistyle26", "--style", "7", "--workers", "1"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 90
        while time.time() < deadline and proc.poll() is None:
            if killed.is_dir() and sum(1 for _ in killed.rglob("img*.png")) >= target:
                break
            time.sleep(0.01)
        if proc.poll() is None:
            kids = _children(proc.pid)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
            time.sleep(0.5)
            alive = [k for k in kids if Path(f"/proc/{k}").exists() and "State:\tZ" not in
                     Path(f"/proc/{k}/status").read_text()]
            assert not alive, f"workers outlived the killed coordinator: {alive}"
    assert kills >= 2, "the job finished before it could be killed; make the tree slower"
    (killed / "sub" / ".fsbatch-dead0000-img01.png").write_bytes(b"half a png")  # a stale temp file
    r = cli(tree, "-o", killed, "--model", "multistyle26", "--style", "7", "--workers", "1", "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["done"] + summary["skipped"] == 40 and summary["skipped"] >= 26 and summary["temps_cleaned"] >= 1
    assert sha_tree(killed) == sha_tree(clean) and len(sha_tree(clean)) == 40
    leftovers = [p for p in killed.rglob("*") if p.name.startswith(".fsbatch-") or p.suffix == ".part"]
    assert not leftovers
    rows = sqlite3.connect(killed / MANIFEST_NAME).execute("SELECT output, state, sha256 FROM items").fetchall()
    assert len(rows) == 40 and all(s == "done" for _, s, _ in rows)
    assert {o: h for o, _, h in rows} == sha_tree(killed)


@needs_images
def test_bad_inputs_are_recorded_and_do_not_stop_the_job(work, tmp_path):
    tree = make_tree(tmp_path / "in", n=6)
    good = (tree / "img00.png").read_bytes()
    (tree / "empty.png").write_bytes(b"")
    (tree / "text.jpg").write_text("hello, I am not a picture")
    jpg = (tree / "sub" / "img01.jpg").read_bytes()
    (tree / "sub" / "truncated.jpg").write_bytes(jpg[: len(jpg) // 3])
    Image.new("RGB", (8, 8)).save(tree / "tiny.png")
    out = tmp_path / "out"
    r = cli(tree, "-o", out, "--model", work["model"], "--json")
    assert r.returncode == 1, r.stderr
    s = json.loads(r.stdout)
    assert (s["done"], s["failed"], s["ignored"]) == (6, 4, 1)
    errs = {e["input"]: e["error"] for e in s["errors"]}
    assert set(errs) == {"empty.png", "text.jpg", "sub/truncated.jpg", "tiny.png"}
    assert "0 bytes" in errs["empty.png"] and "too small" in errs["tiny.png"]
    assert not (out / "empty.png").exists() and not (out / "sub" / "truncated.png").exists()
    db = sqlite3.connect(out / MANIFEST_NAME)
    assert db.execute("SELECT COUNT(*) FROM items WHERE state='failed' AND error != ''").fetchone()[0] == 4
    # a plain re-run keeps them failed without retrying; fixing a file gets it done
    r = cli(tree, "-o", out, "--model", work["model"], "--json")
    s = json.loads(r.stdout)
    assert r.returncode == 1 and (s["done"], s["skipped"], s["failed_before"]) == (0, 6, 4)
    (tree / "empty.png").write_bytes(good)
    r = cli(tree, "-o", out, "--model", work["model"], "--retry-failed")
    assert r.returncode == 1 and "failed: text.jpg" in r.stdout
    assert (out / "empty.png").is_file()
    assert db.execute("SELECT state FROM items WHERE rel='empty.png'").fetchone()[0] == "done"


@needs_images
def test_rerun_skips_and_repairs_missing_or_changed_outputs(work, tmp_path):
    out = tmp_path / "out"
    opts = dict(model=str(work["model"]), format="jpg")
    first = run_batch(str(work["tree"]), out, BatchOptions(**opts), workers=2, progress=False)
    assert (first.done, first.failed, first.ignored) == (40, 0, 1)
    assert (out / "sub" / "deep" / "img02.jpg").is_file() and not any(work["tree"].rglob("*.fsbatch*"))
    before = sha_tree(out)
    again = run_batch(str(work["tree"]), out, BatchOptions(**opts), workers=2, progress=False)
    assert (again.done, again.skipped) == (0, 40)
    (out / "img00.jpg").unlink()
    (out / "sub" / "img01.jpg").write_bytes(b"tampered")
    fixed = run_batch(str(work["tree"]), out, BatchOptions(**opts), workers=1, progress=False)
    assert (fixed.done, fixed.skipped) == (2, 38)
    assert sha_tree(out) == before


def test_refusals_are_usage_errors(work, tmp_path):
    out = tmp_path / "out"
    r = cli(work["tree"], "-o", work["tree"] / "styled", "--model", work["model"])
    assert r.returncode == 2 and "inside the input" in r.stderr and "Traceback" not in r.stderr
    r = cli(tmp_path / "nowhere", "-o", out, "--model", work["model"])
    assert r.returncode == 2 and "no such folder" in r.stderr
    tree = make_tree(tmp_path / "in", n=3)
    assert cli(tree, "-o", out, "--model", work["model"]).returncode == 0
    r = cli(tree, "-o", out, "--model", work["model"], "--strength", "0.5")
    assert r.returncode == 2 and "other settings" in r.stderr and "strength" in r.stderr
    r = cli(tree, "-o", out, "--model", work["model"], "--format", "gif")
    assert r.returncode == 2


def test_two_inputs_never_share_one_output(work, tmp_path):
    tree = tmp_path / "in"
    tree.mkdir()
    Image.open(work["tree"] / "img00.png").save(tree / "x.png")
    Image.open(work["tree"] / "img00.png").save(tree / "x.jpg")
    res = run_batch(str(tree), tmp_path / "out", BatchOptions(model=str(work["model"])), workers=1,
                    progress=False)
    assert res.done == 2
    assert sorted(p.name for p in (tmp_path / "out").glob("x*")) == ["x.jpg.png", "x.png.png"]


def test_missing_ray_names_the_pip_line(work, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(UserError, match=r'pip install "ray\[data\]==2.60.0"'):
        run_batch(str(work["tree"]), tmp_path / "out", BatchOptions(model=str(work["model"])), engine="ray",
                  progress=False)


@needs_images
def test_videos_become_whole_mp4s(work, tmp_path):
    import av
    clip = SHARED / "clips" / "asl_gestures_book.mkv"
    if not clip.is_file():
        pytest.skip("shared clip missing")
    tree = tmp_path / "in"
    (tree / "clips").mkdir(parents=True)
    (tree / "clips" / clip.name).write_bytes(clip.read_bytes())
    (tree / "clips" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 cut short")
    Image.open(work["tree"] / "img00.png").save(tree / "still.png")
    out = tmp_path / "out"
    r = cli(tree, "-o", out, "--model", work["model"], "--videos", "--max-size", "96", "--json")
    s = json.loads(r.stdout)
    assert r.returncode == 1 and (s["done"], s["failed"]) == (2, 1), r.stderr
    assert [e["input"] for e in s["errors"]] == ["clips/broken.mp4"]
    with av.open(str(out / "clips" / "asl_gestures_book.mp4")) as c:
        vs = c.streams.video[0]
        assert vs.codec_context.name == "h264" and max(vs.codec_context.width, vs.codec_context.height) == 96
        n = sum(1 for _ in c.decode(video=0))
    with av.open(str(clip)) as c:
        assert n == sum(1 for _ in c.decode(video=0))
    r = cli(tree, "-o", out, "--model", work["model"], "--max-size", "96", "--json")  # no --videos: ignored
    assert json.loads(r.stdout)["ignored"] == 2
