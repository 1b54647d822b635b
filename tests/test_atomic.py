"""atomic_write: the target appears whole or not at all, and no temporary file is left behind."""

from __future__ import annotations

import pytest

from training.atomic import atomic_write


def test_a_finished_write_replaces_the_file_and_leaves_only_it(tmp_path):
    path = tmp_path / "sub" / "x.bin"
    with atomic_write(path) as f:
        f.write(b"new")
        assert not path.exists()  # nothing appears before the block ends
    assert path.read_bytes() == b"new"
    assert [p.name for p in path.parent.iterdir()] == ["x.bin"]


def test_a_failed_write_leaves_no_file_and_no_temporary_file(tmp_path):
    path = tmp_path / "x.bin"
    with pytest.raises(ValueError, match="bad data"), atomic_write(path) as f:
        f.write(b"half")
        raise ValueError("bad data")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_write(path) as f:
        f.write(b"half")
        raise KeyboardInterrupt
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]
