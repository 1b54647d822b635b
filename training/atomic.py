"""Files that appear whole or not at all: write beside the target, fsync, then rename over it.

A write in progress lives in a hidden temporary file beside its target, named
".<target name>.<random>.tmp" (is_partial tells one). A process killed mid-write leaves that
file behind, never a half-written file under the target's name; the app removes such leftovers
at startup (explorer/server/runs.py, clean_partial_files).
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

PARTIAL_SUFFIX = ".tmp"
# Errors a write to a regular file can raise because of the storage, not the caller's data.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS})
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class WriteError(OSError):
    """A file that could not be saved. The message, for a person, names the file and says why
    ("the disk is full" when it is); errno is the cause's. The previous file is unchanged."""

    def __init__(self, path: Path, cause: OSError) -> None:
        super().__init__(cause.errno, cause.strerror or str(cause), str(path))
        if cause.errno in DISK_FULL_ERRNOS:
            self.message = f"the disk is full: {path} was not saved"
        else:
            self.message = f"{path} was not saved: {cause.strerror or cause}"
        self.message += " (a file already there is unchanged)"

    def __str__(self) -> str:
        return self.message


def is_partial(name: str) -> bool:
    """Whether a file name is an atomic write's temporary file (a leftover if no write runs)."""
    return name.endswith(PARTIAL_SUFFIX)


@contextmanager
def atomic_write(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file to write that replaces path only when the block finishes without error.

    The data goes to a temporary file in path's folder (so the final os.replace is a rename on one
    file system, atomic on POSIX); it is flushed and fsynced before the rename, and the folder
    after it, so a reader or a crash sees the old file or the new one, never half of one. On any
    exception the temporary file is removed and path is left as it was; a failure of the storage
    (a full disk, an I/O error) or of the temporary file itself raises WriteError. Creates path's
    folder if needed.
    """
    path = Path(path)
    tmp, block_done = None, False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=PARTIAL_SUFFIX)
        with os.fdopen(fd, "wb") as f:
            yield f
            block_done = True
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        # The caller's own errors in the block (a download that failed) pass unchanged.
        if tmp is None or block_done or e.errno in STORAGE_ERRNOS:
            raise WriteError(path, e) from e
        raise
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)  # gone already after a successful rename
    fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    """Make a rename in folder durable across a power cut (a killed process needs no more than
    the rename). Best effort: some file systems cannot open or sync a folder."""
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
