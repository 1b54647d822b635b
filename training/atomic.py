"""Files that appear whole or not at all: write beside the target, fsync, then rename over it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_write(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file to write that replaces path only when the block finishes without error.

    The data goes to a temporary file in path's folder (so the final os.replace is a rename on one
    file system, atomic on POSIX); it is flushed and fsynced before the rename, so a reader or a
    crash sees the old file or the new one, never half of one. On any exception the temporary
    file is removed and path is left as it was. Creates path's folder if needed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)  # gone already after a successful rename
