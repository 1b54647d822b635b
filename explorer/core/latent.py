"""Latent-space math as small pure NumPy functions: projection to 2-D and back, grids,
interpolation and sampling. No Streamlit, no torch: any front end can call them, any test can
check them."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

# What one request may ask for. Every image is decoded on the server that the whole class shares,
# and a client can send any widget value over the websocket (Streamlit resets a slider's value
# outside its range, but these functions must not rely on the page), so they refuse more.
MAX_GRID_SIDE = 20  # an n x n manifold grid: 400 decodes (64x64 faces: about 1 s)
MAX_STEPS = 16  # points on an interpolation path
MAX_SAMPLE_VALUES = 1_000_000  # n_samples * latent_dim drawn from the prior: 8 MB


@dataclass(frozen=True)
class Projection:
    """A linear map between the K-D latent space and the 2-D plane of the map.

    mean:       (K,) the centre of the codes
    components: (2, K) orthonormal rows, the plane's axes in latent space
    For K = 2 it is the identity, so the map shows the codes themselves.
    """

    mean: np.ndarray
    components: np.ndarray

    @property
    def is_identity(self) -> bool:
        k = len(self.mean)
        return k == 2 and np.array_equal(self.components, np.eye(2)) and not self.mean.any()

    def to_plane(self, z: np.ndarray) -> np.ndarray:
        """(N, K) codes -> (N, 2) map coordinates."""
        return (np.asarray(z, dtype=np.float64) - self.mean) @ self.components.T

    def to_latent(self, xy: np.ndarray, base: np.ndarray | None = None) -> np.ndarray:
        """(N, 2) map coordinates -> (N, K) codes, the inverse on the plane.

        Off-plane coordinates come from base (K,), projected onto the plane's orthogonal
        complement, or from the mean: to_latent(to_plane(z), base=z) == z exactly.
        """
        xy = np.atleast_2d(np.asarray(xy, dtype=np.float64))
        origin = (
            self.mean if base is None else base - self.to_plane(base[None])[0] @ self.components
        )
        return origin + xy @ self.components


def fit_projection(z: np.ndarray) -> Projection:
    """The identity for 2-D codes; else the top two principal axes of z (N, K), K >= 1.

    A 1-D space gets a second axis of zeros so it still draws as a plane (y = 0).
    """
    z = np.asarray(z, dtype=np.float64)
    k = z.shape[1]
    if k == 2:
        return Projection(np.zeros(2), np.eye(2))
    if k == 1:
        return Projection(np.zeros(1), np.array([[1.0], [0.0]]))
    mean = z.mean(0)
    # SVD of the centred codes: rows of vt are the principal axes, largest variance first.
    _, _, vt = np.linalg.svd(z - mean, full_matrices=False)
    components = vt[:2] * np.sign(vt[:2].sum(1, keepdims=True) + 1e-12)  # deterministic signs
    return Projection(mean, components)


def grid_points(x_range: tuple[float, float], y_range: tuple[float, float], n: int) -> np.ndarray:
    """(n * n, 2) points on an n x n grid, row by row from the top (largest y) down, so that
    they tile an image grid in reading order."""
    _check_grid_side(n)
    xs = np.linspace(*x_range, n)
    ys = np.linspace(*y_range, n)[::-1]
    return np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)


def _check_grid_side(n: int) -> None:
    if not 1 <= n <= MAX_GRID_SIDE:
        raise ValueError(
            f"n must be 1 to {MAX_GRID_SIDE} (a grid of at most {MAX_GRID_SIDE**2} images), got {n}"
        )


def prior_quantile_grid(n: int, low: float = 0.05, high: float = 0.95) -> np.ndarray:
    """(n * n, 2) grid at evenly spaced quantiles of N(0, 1) on each axis (as in Kingma &
    Welling's figure 4): equal probability mass between neighbouring points."""
    _check_grid_side(n)  # before the n quantiles are worked out
    q = [NormalDist().inv_cdf(p) for p in np.linspace(low, high, n)]
    return grid_points((q[0], q[-1]), (q[0], q[-1]), n)


def lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Linear interpolation: (K,), (K,), (T,) -> (T, K)."""
    t = np.asarray(t, dtype=np.float64)[:, None]
    return (1 - t) * a + t * b


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation (Shoemake 1985; White, "Sampling Generative Networks", 2016):
    follows the great circle between a and b, interpolating the norm linearly, so that points
    stay where a Gaussian prior puts its mass instead of cutting through the low-norm middle.
    (K,), (K,), (T,) -> (T, K). Falls back to lerp for (anti)parallel or zero vectors."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return lerp(a, b, t)
    omega = np.arccos(np.clip(a @ b / (na * nb), -1.0, 1.0))
    if np.sin(omega) < 1e-6:
        return lerp(a, b, t)
    ua, ub = a / na, b / nb
    direction = (np.sin((1 - t) * omega)[:, None] * ua + np.sin(t * omega)[:, None] * ub) / np.sin(
        omega
    )
    return direction * ((1 - t) * na + t * nb)[:, None]


def interpolate(a: np.ndarray, b: np.ndarray, n_steps: int, method: str = "linear") -> np.ndarray:
    """(n_steps, K) codes from a to b inclusive, "linear" or "spherical"."""
    if not 2 <= n_steps <= MAX_STEPS:
        raise ValueError(f"n_steps must be 2 to {MAX_STEPS}, got {n_steps}")
    t = np.linspace(0, 1, n_steps)
    if method == "linear":
        return lerp(a, b, t)
    if method == "spherical":
        return slerp(a, b, t)
    raise ValueError(f"method must be 'linear' or 'spherical', got {method!r}")


def sample_prior(n_samples: int, latent_dim: int, rng: np.random.Generator) -> np.ndarray:
    """(n_samples, latent_dim) draws from the VAE prior N(0, I)."""
    if n_samples < 0 or n_samples * latent_dim > MAX_SAMPLE_VALUES:
        raise ValueError(
            f"n_samples * latent_dim must be 0 to {MAX_SAMPLE_VALUES:,}, got "
            f"{n_samples} * {latent_dim}"
        )
    return rng.standard_normal((n_samples, latent_dim))


def nearest(points: np.ndarray, xy: np.ndarray) -> tuple[int, float]:
    """Index of the row of points (N, 2) closest to xy (2,), and its distance."""
    d = np.linalg.norm(np.asarray(points) - np.asarray(xy), axis=1)
    i = int(np.argmin(d))
    return i, float(d[i])
