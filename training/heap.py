"""Giving freed heap memory back to the operating system (glibc only; a no-op elsewhere).

glibc's malloc serves a tensor of a few MB from its heap once one of that size has been freed
(its mmap threshold adapts upward), and that heap fragments: evaluating a model on 200,000
64x64 RGB images left 0.3-0.8 GB of freed but unreturned memory in the peak RSS (1.6x the
pixels' size against the 1.5x target). malloc_trim(0) returns those pages. It is called every
few batches, not every one: each page returned is faulted back in on reuse, so trimming every
batch made evaluation 1.5x slower, every eighth batch 1.15x (benchmarks/memory.py).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache

TRIM_EVERY = 8  # batches between two trims


@cache
def _malloc_trim():
    """glibc's malloc_trim, or None where the C library has none (macOS, musl, Windows)."""
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


def release_freed_memory() -> None:
    """Return the heap's free pages to the OS, so the resident size is what is in use."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
