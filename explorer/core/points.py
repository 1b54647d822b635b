"""The selected latent point: what a click, a slider or a URL names, checked before anything is
decoded. Pure NumPy: a point from the outside world is refused when it is not finite and clipped
when it lies absurdly far from the data (a code of 1e308 decodes to black and overflows)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

MAX_SLIDERS = 8  # sliders shown by default; more on demand
SLIDER_PAD = 0.25  # sliders reach a quarter of the data's extent beyond it on each side
CLIP_PAD = 1.0  # points are clipped to the data's extent widened by this much on each side
# A URL's point holds at most this many characters per latent coordinate: "-1.2345678901234567e-05"
# is 23. Longer text is refused before it is split (a client can send megabytes of it).
MAX_CHARS_PER_NUMBER = 32


class PointError(ValueError):
    """A point that cannot be decoded (not finite, wrong size); the message says why."""


@dataclass(frozen=True)
class Point:
    """z: (K,) the code both models decode; index: the plotted point number when the user
    picked a data point (then its image and reconstructions are shown), else None."""

    z: tuple[float, ...]
    index: int | None = None

    def to_text(self) -> str:
        """The URL's form: i12 for a data point, else the coordinates (4 significant digits)."""
        return f"i{self.index}" if self.index is not None else ",".join(f"{v:.4g}" for v in self.z)


@dataclass(frozen=True)
class Bounds:
    """Per coordinate, the codes' extent (low, high) over both models: (K,) each."""

    low: np.ndarray
    high: np.ndarray

    @classmethod
    def of(cls, *codes: np.ndarray) -> Bounds:
        both = np.concatenate([np.asarray(c, dtype=np.float64) for c in codes])
        return cls(both.min(0), both.max(0))

    def widened(self, pad: float) -> tuple[np.ndarray, np.ndarray]:
        span = np.maximum(self.high - self.low, 1e-6)  # a constant coordinate still gets room
        return self.low - pad * span, self.high + pad * span


def parse_point(text: str, codes: np.ndarray) -> Point:
    """A point from the URL's text: "i12" (plotted data point 12, at its row of codes (M, K))
    or K comma-separated numbers. Raises PointError with a sentence for a person."""
    text = text.strip()
    n_points, latent_dim = codes.shape
    if len(text) > MAX_CHARS_PER_NUMBER * latent_dim:
        raise PointError(
            f"the point is {len(text):,} characters long: too long for {latent_dim} numbers"
        )
    # Not "inf,0", which is numbers; at most 12 digits: int() refuses over 4,300 with ValueError.
    if re.fullmatch(r"i[+-]?\d{1,12}", text):
        index = int(text[1:])
        if not 0 <= index < n_points:
            raise PointError(f"there is no data point #{index} (0 to {n_points - 1})")
        return Point(tuple(float(v) for v in codes[index]), index)
    try:
        z = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise PointError(f"{text[:40]!r} is not a list of numbers") from None
    if len(z) != latent_dim:
        raise PointError(f"the models' codes have {latent_dim} numbers, the URL gives {len(z)}")
    return Point(check_finite(z))


def check_finite(z) -> tuple[float, ...]:
    """z as a tuple of floats; PointError when a coordinate is NaN or infinite."""
    values = tuple(float(v) for v in z)
    if not all(math.isfinite(v) for v in values):
        raise PointError("a latent point must be finite numbers, not NaN or infinity")
    return values


def clip_to_data(z, bounds: Bounds) -> tuple[tuple[float, ...], bool]:
    """(z clipped to the data's extent widened by CLIP_PAD on each side, whether it was)."""
    low, high = bounds.widened(CLIP_PAD)
    z = np.asarray(check_finite(z))
    clipped = np.clip(z, low, high)
    return tuple(float(v) for v in clipped), bool((clipped != z).any())


def slider_ranges(bounds: Bounds, z) -> list[tuple[float, float]]:
    """Per coordinate (low, high): the data's extent plus SLIDER_PAD, stretched to hold z."""
    low, high = bounds.widened(SLIDER_PAD)
    return [(float(min(lo, v)), float(max(hi, v))) for lo, hi, v in zip(low, high, z, strict=True)]


def important_coordinates(*codes: np.ndarray, n: int = MAX_SLIDERS) -> list[int]:
    """The n coordinates that matter most, in order: each model's share of its total variance
    on a coordinate, summed over the models (an AE's and a VAE's scales differ; a VAE's unused
    coordinates have near-zero variance). Ties keep coordinate order."""
    share = sum(np.var(c, axis=0) / max(float(np.var(c, axis=0).sum()), 1e-12) for c in codes)
    order = np.argsort(-np.asarray(share), kind="stable")
    return sorted(int(i) for i in order[:n])
