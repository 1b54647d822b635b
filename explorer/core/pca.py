"""PCA of images in NumPy: the linear baseline a model pair shows beside its two models.

scikit-learn's PCA computes the same, but importing scikit-learn takes over a second, which every
restart of the app paid before its first image (docs/benchmarks.md). The fitted attributes keep
scikit-learn's names, so the code that reads a PCA (the browser's decoder bundle) takes either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EXACT_UP_TO = 1000  # pixels: up to here the (D, D) covariance is small enough to diagonalize
OVERSAMPLES = 10  # extra sketch columns beyond n_components, as in scikit-learn
POWER_ITERATIONS = 7  # scikit-learn's "auto" for few components


@dataclass(frozen=True)
class PCA:
    """mean_ (D,) and components_ (K, D): orthonormal rows, the largest variance first."""

    mean_: np.ndarray
    components_: np.ndarray

    @property
    def n_components_(self) -> int:
        return len(self.components_)

    def transform(self, x: np.ndarray) -> np.ndarray:
        """(N, D) -> (N, K) codes: the centred rows on the components."""
        return (x - self.mean_) @ self.components_.T

    def inverse_transform(self, codes: np.ndarray) -> np.ndarray:
        """(N, K) codes -> (N, D): the rows they stand for (not clipped)."""
        return codes @ self.components_ + self.mean_


def fit_pca(x: np.ndarray, n_components: int, seed: int = 0) -> PCA:
    """PCA of the rows of x (N, D), returned in x's float dtype: exact for up to EXACT_UP_TO
    pixels (digits, MNIST), else by randomized SVD as scikit-learn's solver does for many
    pixels (faces), seeded."""
    n, d = x.shape
    if not 1 <= n_components <= min(n, d):
        raise ValueError(
            f"n_components must be 1 to {min(n, d)} for {n} rows of {d}, got {n_components}"
        )
    mean = x.mean(axis=0, dtype=np.float64)
    if d <= EXACT_UP_TO:
        centred = x - mean  # float64
        _, vectors = np.linalg.eigh(centred.T @ centred)  # ascending eigenvalues
        components = vectors[:, ::-1][:, :n_components].T
    else:
        components = _randomized_components(x - mean.astype(x.dtype), n_components, seed)
    # scikit-learn's sign convention (svd_flip on the components): each row's largest entry > 0.
    largest = components[np.arange(n_components), np.abs(components).argmax(axis=1)]
    components = components * np.sign(largest)[:, None]
    return PCA(mean.astype(x.dtype), components.astype(x.dtype))


def _randomized_components(centred: np.ndarray, n_components: int, seed: int) -> np.ndarray:
    """(K, D) leading right singular vectors of centred (N, D) by randomized SVD (Halko,
    Martinsson and Tropp 2011, algorithm 4.4): exact when the sketch spans all of it."""
    n, d = centred.shape
    sketch = min(n_components + OVERSAMPLES, n, d)
    noise = np.random.default_rng(seed).standard_normal((d, sketch)).astype(centred.dtype)
    q = centred @ noise  # (N, sketch): random mixes of the columns, mostly the top directions
    for _ in range(POWER_ITERATIONS):  # QR between products keeps the sketch well conditioned
        q = centred @ np.linalg.qr(centred.T @ np.linalg.qr(q)[0])[0]
    q = np.linalg.qr(q)[0]
    _, _, vt = np.linalg.svd(q.T @ centred, full_matrices=False)
    return vt[:n_components]
