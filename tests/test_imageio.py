"""The one atomic writer: a failed write leaves the old file whole and no temp file behind."""
import numpy as np
import pytest

from framestyle.imageio import atomic_file, atomic_write_bytes


def test_atomic_file_replaces_whole_or_not_at_all(tmp_path):
    path = tmp_path / "sub" / "pairs.npz"
    with atomic_file(path) as f:
        np.savez(f, x=np.arange(5))
    assert np.load(path)["x"].tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(RuntimeError):
        with atomic_file(path) as f:
            f.write(b"half")
            raise RuntimeError("killed mid-write")
    assert np.load(path)["x"].tolist() == [0, 1, 2, 3, 4]
    atomic_write_bytes(tmp_path / "sub" / "b.bin", b"ok")
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["b.bin", "pairs.npz"]
