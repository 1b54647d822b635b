"""atomic_write: the target appears whole or not at all, and no temporary file is left behind."""

from __future__ import annotations

import errno
import os

import pytest

from training.atomic import WriteError, atomic_write, is_partial


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


class DiskFillsUp:
    """A file stand-in whose disk has room bytes left: the write that goes past them writes
    what fits, then fails with ENOSPC, as a full file system does."""

    def __init__(self, f, room: int) -> None:
        self.f, self.room = f, room

    def write(self, data) -> int:
        n = min(len(data), self.room)
        self.f.write(bytes(data[:n]))
        self.room -= n
        if n < len(data):
            raise OSError(errno.ENOSPC, "No space left on device")
        return n

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.f.close()


@pytest.fixture
def disk_with_room(monkeypatch):
    """Call with a number of bytes: from then on, files opened by atomic_write fill up there."""
    real = os.fdopen

    def limit(room: int) -> None:
        monkeypatch.setattr(os, "fdopen", lambda fd, mode: DiskFillsUp(real(fd, mode), room))

    return limit


def test_a_write_in_progress_is_a_hidden_temporary_file_beside_its_target(tmp_path):
    path = tmp_path / "x.bin"
    with atomic_write(path) as f:
        f.write(b"new")
        (tmp,) = tmp_path.iterdir()
        assert tmp.name.startswith(".x.bin.") and is_partial(tmp.name)
    assert not is_partial(path.name) and not is_partial("vae.safetensors")


def test_a_full_disk_says_so_names_the_file_and_keeps_the_old_one(tmp_path, disk_with_room):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"old" * 1000)
    disk_with_room(100)
    with pytest.raises(WriteError) as caught, atomic_write(path) as f:
        f.write(b"new" * 1000)
    message = str(caught.value)
    assert message.startswith("the disk is full: ") and str(path) in message
    assert caught.value.errno == errno.ENOSPC and isinstance(caught.value, OSError)
    assert path.read_bytes() == b"old" * 1000
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
def test_a_failing_fsync_keeps_the_old_file_and_leaves_no_temporary_file(
    tmp_path, monkeypatch, code
):
    # Some file systems report a full disk only when the data is flushed to it.
    path = tmp_path / "x.bin"
    path.write_bytes(b"old")

    def fail(fd):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fsync", fail)
    with (
        pytest.raises(WriteError, match=r"x\.bin was not saved") as caught,
        atomic_write(path) as f,
    ):
        f.write(b"new")
    assert ("the disk is full" in str(caught.value)) == (code == errno.ENOSPC)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]


def test_a_folder_that_cannot_be_created_is_a_write_error_naming_the_file(tmp_path):
    (tmp_path / "file").write_bytes(b"")
    with (
        pytest.raises(WriteError, match=r"file/x\.bin was not saved"),
        atomic_write(tmp_path / "file" / "x.bin"),
    ):
        pass


def test_the_callers_own_errors_in_the_block_pass_unchanged(tmp_path):
    # A download that fails (idx.py writes one inside the block) is not a disk problem.
    with pytest.raises(ConnectionResetError) as caught, atomic_write(tmp_path / "x.bin") as f:
        f.write(b"half")
        raise ConnectionResetError(errno.ECONNRESET, "reset by peer")
    assert not isinstance(caught.value, WriteError)
    assert list(tmp_path.iterdir()) == []
