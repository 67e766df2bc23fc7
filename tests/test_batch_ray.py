"""The Ray engine makes the same outputs as the local pool, and resumes from the same manifest."""
import sqlite3

import pytest

pytest.importorskip("ray", reason='the ray extra is not installed: pip install "ray[data]==2.60.0"')

from framestyle.batch import MANIFEST_NAME, BatchOptions, run_batch  # noqa: E402
from framestyle.batch.ray_engine import _import_ray, _start  # noqa: E402
from conftest import needs_images  # noqa: E402
from test_batch import make_tree, sha_tree, tiny_model  # noqa: E402

pytestmark = [pytest.mark.ray, needs_images]


def test_ray_matches_local_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setenv("FRAMESTYLE_HOME", str(tmp_path / "fshome"))
    tree = make_tree(tmp_path / "in", n=12)
    (tree / "sub" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    model = tiny_model(tmp_path / "m.onnx")
    local = run_batch(str(tree), tmp_path / "local", BatchOptions(model=str(model)), workers=2, progress=False)
    assert (local.done, local.failed) == (12, 1)
    out = tmp_path / "ray"
    ray = _import_ray()
    assert _start(ray, None, 2)  # one private loopback Ray for both runs (starting Ray takes ~10 s here)
    try:
        s = run_batch(str(tree), out, BatchOptions(model=str(model)), workers=2, engine="ray", progress=False)
        assert (s.engine, s.done, s.failed) == ("ray", 12, 1)
        assert [e["input"] for e in s.errors] == ["sub/broken.png"]
        assert sha_tree(out) == sha_tree(tmp_path / "local")   # byte-identical PNGs
        # 4 outputs go missing: the next Ray run redoes exactly those, from the same manifest
        for p in sorted(out.rglob("img0*.png"))[:4]:
            p.unlink()
        s = run_batch(str(tree), out, BatchOptions(model=str(model)), workers=2, engine="ray", progress=False)
        assert (s.done, s.skipped, s.failed_before) == (4, 8, 1)
    finally:
        ray.shutdown()
    assert sha_tree(out) == sha_tree(tmp_path / "local")
    assert not [p for p in out.rglob(".fsbatch-*")]
    db = sqlite3.connect(out / MANIFEST_NAME)
    assert db.execute("SELECT COUNT(*) FROM items WHERE state='done'").fetchone()[0] == 12
