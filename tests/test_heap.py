import numpy as np
import pytest

from training import heap


def resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.mark.skipif(heap._malloc_trim() is None, reason="glibc's malloc_trim is not here")
def test_release_freed_memory_returns_a_fragmented_heap_to_the_os():
    # freed 4 MB blocks, each pinned in the heap by a small block after it: the pattern that
    # kept evaluation's freed batches resident
    np.ones(
        2**20, np.float32
    ).sum()  # freed at once: glibc now serves 4 MB from the heap, not from mmap
    big, pinned = [], []
    for _ in range(64):
        big.append(np.ones(2**20, np.float32))
        pinned.append(np.ones(2**18, np.float32))  # 1 MB: too big for any old hole
    held = resident_bytes()
    del big
    before = resident_bytes()
    heap.release_freed_memory()
    after = resident_bytes()
    assert before > held - 2**27  # freeing alone kept most of the 256 MB resident
    assert after < before - 2**27  # the trim gave at least half of it back
    assert all(block.sum() == 2**18 for block in pinned)


def test_release_freed_memory_is_a_no_op_without_glibc(monkeypatch):
    monkeypatch.setattr(heap, "_malloc_trim", lambda: None)
    heap.release_freed_memory()  # nothing to call, nothing raised
