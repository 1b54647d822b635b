"""Shared helpers for the benchmark scripts: data location, timing, table printing."""

from __future__ import annotations

import os
import statistics
import threading
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """$LATENT_EXPLORER_DATA, else ../shared/data beside the checkout."""
    return Path(os.environ.get("LATENT_EXPLORER_DATA") or ROOT.parent / "shared" / "data")


def time_budget(seconds: float | None) -> threading.Event:
    """An event set after `seconds` (never, for None): pass it as fit's cancel to train for a
    fixed wall time."""
    event = threading.Event()
    if seconds is not None:
        timer = threading.Timer(seconds, event.set)
        timer.daemon = True  # a run that ends early must not wait for it at exit
        timer.start()
    return event


def median_of(fn, repeats: int) -> tuple[float, list[float]]:
    """Median and all values of fn() over repeats calls."""
    values = [fn() for _ in range(repeats)]
    return statistics.median(values), values


def matmul_peak_gflops(dtype: torch.dtype, size: int = 2048, repeats: int = 7) -> float:
    """Measured GEMM throughput of this machine (all torch threads), median GFLOP/s."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=gen).to(dtype)
    b = torch.randn(size, size, generator=gen).to(dtype)
    a @ b  # warm-up: oneDNN picks and JIT-compiles its kernel on first use

    def once() -> float:
        start = time.perf_counter()
        a @ b
        return 2 * size**3 / (time.perf_counter() - start) / 1e9

    return median_of(once, repeats)[0]


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    cells = [header, *[[format_cell(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for i, row in enumerate(cells):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def format_cell(value) -> str:
    if isinstance(value, float | np.floating):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
