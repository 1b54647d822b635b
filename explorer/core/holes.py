"""The hole map: where in a latent map a decoded image is plausible and where it is garbage.

Plausibility is measured by re-encoding: decode a point z of the map, encode the image again,
and see how far the code lands from z, ||E(D(z)) - z||. Where the decoder draws something the
encoder recognises as "the image that belongs here", the round trip comes back (error near 0);
in a hole the decoder draws something the encoder sends elsewhere. The distance is measured on
the map (the 2-D plane shown) and divided by the spread of the data's codes there, so an AE and
a VAE, whose latent scales differ by orders of magnitude, share one colour scale.
Pure NumPy: the encoder and decoder are passed in as functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from explorer.core.latent import Projection
from explorer.core.model_pair import KINDS, ModelPair

Coder = Callable[[np.ndarray], np.ndarray]
# A point is a hole when its code comes back more than half the data's spread away (it lands
# in a clearly different part of the map) and more than twice as far as 9 in 10 of the data's
# own codes do: some models never round-trip closely (on the 32-D faces the data itself comes
# back 0.7-1.0 spreads away, and a fixed half spread called 84% of the view a hole). On the
# default digits models 9 in 10 data codes come back within 0.24 (AE) and 0.40 (VAE) spreads.
HOLE_THRESHOLD = 0.5
DATA_FACTOR, DATA_QUANTILE = 2.0, 90.0
ROUND_TRIP_SAMPLE = 500  # data codes whose round trip sets the threshold
PERCENTILES = (1.0, 99.0)  # the view: the data's extent without its outliers ...
MARGIN = 0.15  # ... plus this share of it on every side, so that the edges are shown too
# Grid points per side: 48 x 48 round trips take about 10 ms with an 8x8 MLP pair, but about
# 3 s through a 64x64 conv pair on one core, where 20 x 20 takes about 0.6 s for both models.
GRID_SIDE_SMALL, GRID_SIDE_LARGE = 48, 20
LARGE_IMAGE_VALUES = 4096  # values per image (C * H * W) above which the coarser grid is used


def grid_side(image_shape: tuple[int, ...]) -> int:
    """Grid points per side for images of this shape: a view in about a second."""
    return GRID_SIDE_SMALL if np.prod(image_shape) <= LARGE_IMAGE_VALUES else GRID_SIDE_LARGE


@dataclass(frozen=True)
class HoleGrid:
    """xs (n,), ys (n,) ascending: the grid's map coordinates; error (n, n): the re-encoding
    error in spreads of the data, row i at ys[i], column j at xs[j] (Plotly Heatmap's order)."""

    xs: np.ndarray
    ys: np.ndarray
    error: np.ndarray
    threshold: float = HOLE_THRESHOLD  # spreads: above it, a point is a hole

    def hole_share(self, threshold: float | None = None) -> float:
        """The share of the grid's points whose error is above threshold (default: the grid's
        own), in [0, 1]."""
        return float(np.mean(self.error > (self.threshold if threshold is None else threshold)))


def reencoding_error(
    decode: Coder, encode: Coder, z: np.ndarray, to_plane: Coder | None = None
) -> np.ndarray:
    """(N, K) codes -> (N,) ||to_plane(E(D(z))) - to_plane(z)||: how far each decoded image
    re-encodes from where it was decoded, on the map's plane (all K coordinates when None).

    decode: (N, K) -> (N, ...) images; encode: (N, ...) images -> (N, K) codes.
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or len(z) == 0:
        raise ValueError(f"z must be (N, K) with N >= 1, got shape {z.shape}")
    back = np.asarray(encode(decode(z)), dtype=np.float64)
    if back.shape != z.shape:
        raise ValueError(f"encode(decode(z)) has shape {back.shape}, z has {z.shape}")
    if to_plane is not None:
        z, back = to_plane(z), to_plane(back)
    return np.linalg.norm(back - z, axis=1)


def data_spread(xy: np.ndarray) -> float:
    """The spread of points xy (N, 2) on a map: the root mean square of the per-axis standard
    deviations, sqrt((var x + var y) / 2). The unit that makes two maps' errors comparable."""
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) < 2:
        raise ValueError(f"xy must be (N, 2) with N >= 2, got shape {xy.shape}")
    spread = float(np.sqrt(xy.var(axis=0).mean()))
    if not spread > 0:
        raise ValueError("the points do not spread: every point is at the same place")
    return spread


def view_extent(xy: np.ndarray, margin: float = MARGIN) -> tuple[tuple[float, float], ...]:
    """((x0, x1), (y0, y1)): the data's 1st-99th percentile box, widened by margin on each side."""
    low, high = np.percentile(np.asarray(xy, dtype=np.float64), PERCENTILES, axis=0)
    pad = (high - low) * margin
    return (low[0] - pad[0], high[0] + pad[0]), (low[1] - pad[1], high[1] + pad[1])


def lift(projection: Projection, plane: np.ndarray, codes: np.ndarray | None = None) -> np.ndarray:
    """Map points (M, 2) -> latent codes (M, K). Off the plane each point takes the coordinates
    of the data code nearest to it on the map, so the grid stays on the slices where the data
    lies (the codes' mean alone missed one of the faces' two clusters: most of both maps read
    as holes); without codes, or for K = 2, projection.to_latent."""
    if codes is None or projection.is_identity:
        return projection.to_latent(plane)
    codes = np.asarray(codes, dtype=np.float64)
    xy = projection.to_plane(codes)
    nearest = ((plane[:, None, :] - xy[None, :, :]) ** 2).sum(-1).argmin(1)
    base = codes[nearest]
    return base + (plane - projection.to_plane(base)) @ projection.components


def hole_grid(
    decode: Coder,
    encode: Coder,
    projection: Projection,
    xy: np.ndarray,
    n: int = 48,
    codes: np.ndarray | None = None,
) -> HoleGrid:
    """The re-encoding error over an n x n grid spanning the view of the data's map points xy
    (N, 2), in spreads of xy. Grid points are lifted to latent codes by lift (off the plane:
    the nearest of the data's codes, when given); with codes, the hole threshold also follows
    how far the data's own codes come back (HOLE_THRESHOLD's comment)."""
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    spread = data_spread(xy)
    (x0, x1), (y0, y1) = view_extent(xy)
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    plane = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)  # row by row, y ascending
    z = lift(projection, plane, codes)
    error = reencoding_error(decode, encode, z, projection.to_plane) / spread
    threshold = HOLE_THRESHOLD
    if codes is not None:  # the model's own standard: how far its data comes back
        own = (
            reencoding_error(
                decode, encode, np.asarray(codes)[:ROUND_TRIP_SAMPLE], projection.to_plane
            )
            / spread
        )
        threshold = max(threshold, DATA_FACTOR * float(np.percentile(own, DATA_QUANTILE)))
    return HoleGrid(xs, ys, error.reshape(n, n), threshold)


def pair_hole_grids(pair: ModelPair) -> dict[str, HoleGrid]:
    """Each model's hole grid over its own map's view, at the grid side for the pair's images."""
    n = grid_side(pair.dataset.image_shape)
    return {
        kind: hole_grid(
            lambda z, k=kind: pair.decode(k, z),
            lambda x, k=kind: pair.encode(k, x),
            pair.projections[kind],
            pair.xy(kind),
            n,
            pair.codes[kind],
        )
        for kind in KINDS
    }
