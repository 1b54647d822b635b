"""The VAE's posterior q(z|x) = N(mu, diag(exp(logvar))) drawn on the map as ellipses.

A VAE encodes each image as a region, not a point: the ellipse of points within n standard
deviations of mu. For latent sizes above 2 the map shows a 2-D projection P (2, K) of the codes,
and a linear map of a Gaussian is Gaussian: its covariance on the map is P diag(sigma^2) P^T.
Pure NumPy, except posterior_logvar, which runs the encoder.
"""

from __future__ import annotations

import numpy as np
import torch

from training.evaluate import batches
from training.models import VAE

# Where no point is drawn: Plotly breaks a line at a NaN, so one trace holds many ellipses.
GAP = np.nan


@torch.inference_mode()
def posterior_distribution(
    model: VAE, images: np.ndarray, indices: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(N, C, H, W) uint8 or floats in [0, 1] -> mu, logvar (N, K) float64 of images[indices]."""
    model.eval()
    mus, logvars = [], []
    for x in batches(images, indices=indices):
        mu, logvar = model.encode_distribution(x)
        mus.append(mu.numpy())
        logvars.append(logvar.numpy())
    return np.concatenate(mus).astype(np.float64), np.concatenate(logvars).astype(np.float64)


def projected_covariance(logvar: np.ndarray, components: np.ndarray) -> np.ndarray:
    """(N, K) log-variances and the map's axes (2, K) -> (N, 2, 2) covariances on the map,
    P diag(exp(logvar)) P^T. For K = 2 with P = I this is diag(exp(logvar))."""
    logvar = np.asarray(logvar, dtype=np.float64)
    components = np.asarray(components, dtype=np.float64)
    if logvar.ndim != 2 or components.ndim != 2 or components.shape != (2, logvar.shape[1]):
        raise ValueError(
            f"logvar must be (N, K) and components (2, K), got {logvar.shape} and "
            f"{components.shape}"
        )
    variance = np.exp(logvar)  # (N, K)
    return np.einsum("ik,nk,jk->nij", components, variance, components)


def _check_covariances(cov: np.ndarray) -> np.ndarray:
    cov = np.asarray(cov, dtype=np.float64)
    if cov.ndim != 3 or cov.shape[1:] != (2, 2):
        raise ValueError(f"cov must be (N, 2, 2), got shape {cov.shape}")
    if not np.allclose(cov, cov.transpose(0, 2, 1)):
        raise ValueError("cov must be symmetric")
    return cov


def ellipse_axes(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2, 2) covariances -> the 1-sigma ellipses' half-lengths (N, 2), major axis first, and
    the major axis's angle (N,) in radians in (-pi/2, pi/2] from the x axis (eigh's vectors)."""
    values, vectors = np.linalg.eigh(_check_covariances(cov))  # ascending eigenvalues
    half_lengths = np.sqrt(np.clip(values[:, ::-1], 0, None))
    major = vectors[:, :, 1]  # the eigenvector of the largest eigenvalue, (N, 2)
    angle = np.arctan2(major[:, 1], major[:, 0])
    # A direction, not an arrow: fold the angle into (-pi/2, pi/2].
    angle = np.where(angle > np.pi / 2, angle - np.pi, angle)
    angle = np.where(angle <= -np.pi / 2, angle + np.pi, angle)
    return half_lengths, angle


def ellipse_paths(
    centres: np.ndarray, cov: np.ndarray, n_sigma: float = 1.0, n_vertices: int = 40
) -> tuple[np.ndarray, np.ndarray]:
    """The outlines of N ellipses (x - c)^T cov^-1 (x - c) = n_sigma^2 as two flat arrays x, y
    of N * (n_vertices + 2) values: each closed outline (its first vertex repeated) then a NaN,
    so that one Plotly line trace draws them all. centres (N, 2), cov (N, 2, 2)."""
    centres = np.asarray(centres, dtype=np.float64)
    cov = _check_covariances(cov)
    if centres.ndim != 2 or centres.shape[1] != 2 or len(centres) != len(cov):
        raise ValueError(f"centres must be (N, 2) with N = {len(cov)}, got {centres.shape}")
    if n_vertices < 3 or not n_sigma > 0:
        raise ValueError(f"need n_vertices >= 3 and n_sigma > 0, got {n_vertices}, {n_sigma}")
    values, vectors = np.linalg.eigh(cov)
    # x = c + n V sqrt(L) u for unit vectors u: then (x-c)^T V L^-1 V^T (x-c) = n^2 |u|^2.
    scale = vectors * np.sqrt(np.clip(values, 0, None))[:, None, :]  # (N, 2, 2)
    t = np.linspace(0, 2 * np.pi, n_vertices + 1)  # the last vertex closes the outline
    circle = np.stack([np.cos(t), np.sin(t)])  # (2, V + 1)
    outline = centres[:, :, None] + n_sigma * scale @ circle  # (N, 2, V + 1)
    gaps = np.full((len(centres), 2, 1), GAP)
    flat = np.concatenate([outline, gaps], axis=2).transpose(1, 0, 2).reshape(2, -1)
    return flat[0], flat[1]


def typical_sigma(cov: np.ndarray) -> np.ndarray:
    """(N, 2, 2) -> (N,) the geometric mean of each ellipse's half-lengths, det^(1/4): one
    number for how unsure the encoder is about a point (the radius of a circle of equal area)."""
    return np.linalg.det(_check_covariances(cov)).clip(0, None) ** 0.25


def median_by_group(values: np.ndarray, groups: np.ndarray) -> dict[int, float]:
    """{group: median of values (N,) in that group} for integer groups (N,)."""
    values, groups = np.asarray(values), np.asarray(groups)
    if values.shape != groups.shape or values.ndim != 1:
        raise ValueError(
            f"values and groups must be (N,) alike, got {values.shape}, {groups.shape}"
        )
    return {int(g): float(np.median(values[groups == g])) for g in np.unique(groups)}


def map_regions(xy: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """(N, 2) map points -> (N,) region numbers 0-8 of a 3 x 3 split at the terciles of each
    axis, and the regions' names ("top left", ..., "bottom right"): groups for unlabelled data."""
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"xy must be (N, 2), got shape {xy.shape}")
    cuts = np.percentile(xy, [100 / 3, 200 / 3], axis=0)  # (2 cuts, 2 axes)
    column = np.searchsorted(cuts[:, 0], xy[:, 0])
    row = 2 - np.searchsorted(cuts[:, 1], xy[:, 1])  # row 0 at the top (largest y)
    names = tuple(
        "centre" if v == h == "" else f"{v} {h}".strip()
        for v in ("top", "", "bottom")
        for h in ("left", "", "right")
    )  # "top left", "top", ..., "left", "centre", "right", ..., "bottom right"
    return row * 3 + column, names


def seeded_subset(n_points: int, size: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of min(size, n_points) points drawn without replacement."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_points, size=min(size, n_points), replace=False))
