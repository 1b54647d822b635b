"""Read a signal back from its sparkline (explorer/core/display.py): what a browser test sees of
a decoded wave, as the rows of its samples."""

from __future__ import annotations

import numpy as np

from explorer.core.display import SPARK_HEIGHT, SPARK_INK, SPARK_MIDLINE

DARK = (SPARK_INK + SPARK_MIDLINE) / 2  # ink below it, the midline and the paper above


def sample_rows(raster: np.ndarray) -> np.ndarray:
    """(T,) the row of each sample of a sparkline raster (SPARK_HEIGHT * f, T * f) grey, upscaled
    by a whole factor f or not, or (..., 3) colour as a page's image: exactly the rows sparkline
    drew. Column k's ink runs from sample
    k's row to sample k+1's, and the last column is its sample's row alone, so the rows follow
    from the last column back."""
    raster = np.asarray(raster, np.float64)
    raster = raster[..., 0] if raster.ndim == 3 else raster
    f = raster.shape[0] // SPARK_HEIGHT
    ink = raster[::f, ::f] < DARK
    if not ink.any(0).all():
        raise ValueError("a column without ink: not a sparkline")
    runs = [(np.flatnonzero(c)[0], np.flatnonzero(c)[-1]) for c in ink.T]
    rows = [runs[-1][0]]
    for low, high in reversed(runs[:-1]):
        rows.append(low if high == rows[-1] else high)
    return np.array(rows[::-1])


def values(raster: np.ndarray) -> np.ndarray:
    """(T,) each sample's value in [0, 1], to the raster's resolution (1 / (SPARK_HEIGHT - 1))."""
    return 1 - sample_rows(raster) / (SPARK_HEIGHT - 1)
