"""The beta dial's numbers: the KL of each latent dimension, the active units, and what each
rung of a ladder of VAEs (training/ladder.py) shows. Pure NumPy + torch, no Streamlit.

Active units follow Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders" (2016):
dimension k is active when Cov_x(E_q(z|x)[z_k]), the variance over the data of the encoder's
mean, exceeds 0.01. An inactive dimension tells the decoder nothing about the image: its
posterior is the prior whatever the input (posterior collapse), and its KL is about 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from explorer.core.figures import PALETTE, latent_map, map_axes, shared_range
from explorer.core.latent import Projection, fit_projection, sample_prior
from explorer.core.posterior import posterior_distribution as posterior
from training.evaluate import batches, decode_all
from training.models import VAE

ACTIVE_THRESHOLD = 0.01  # Burda et al. (2016)
MAX_STAT_SAMPLES = 500  # test images the numbers are measured on (seeded): enough, and fast


def _check_codes(mu: np.ndarray, name: str = "mu") -> np.ndarray:
    mu = np.asarray(mu, dtype=np.float64)
    if mu.ndim != 2 or mu.shape[0] < 1 or mu.shape[1] < 1:
        raise ValueError(f"{name}: expected (N, K) with N, K >= 1, got shape {mu.shape}")
    if not np.isfinite(mu).all():
        raise ValueError(f"{name}: holds NaN or infinite values")
    return mu


def kl_per_dimension(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """(K,) mean over the N rows of KL(N(mu_k, exp(logvar_k)) || N(0, 1)) in nats, from (N, K)
    means and log-variances. Sums to the mean of training.losses.kl_divergence (Kingma &
    Welling 2014, appendix B), which adds these terms over k."""
    mu, logvar = _check_codes(mu), _check_codes(logvar, "logvar")
    if mu.shape != logvar.shape:
        raise ValueError(f"mu {mu.shape} and logvar {logvar.shape} must have one shape")
    return (-0.5 * (1 + logvar - mu**2 - np.exp(logvar))).mean(0)


def unit_variances(mu: np.ndarray) -> np.ndarray:
    """(K,) variance over the N rows (the data) of each dimension of the encoder's mean."""
    return _check_codes(mu).var(0)


def active_units(mu: np.ndarray, threshold: float = ACTIVE_THRESHOLD) -> int:
    """How many dimensions of (N, K) encoder means vary over the data by more than threshold."""
    if not threshold >= 0:
        raise ValueError(f"threshold: must be >= 0, got {threshold}")
    return int((unit_variances(mu) > threshold).sum())


@dataclass(frozen=True)
class Rung:
    """What the dial shows for one VAE of the ladder.

    xy:              (M, 2) the map's points (their codes, or a PCA view of them above 2-D)
    kl_per_dim:      (K,) mean KL of each dimension over the measured test images, in nats
    unit_variance:   (K,) variance of each dimension's mean over those images
    recon_mse:       mean squared error per pixel of their reconstructions (from the means)
    reconstructions: (R, C, H, W) of the fixed images shown; samples: (S, C, H, W) from the prior
    """

    beta: float
    xy: np.ndarray
    projection: Projection
    kl_per_dim: np.ndarray
    unit_variance: np.ndarray
    active: int
    recon_mse: float
    reconstructions: np.ndarray
    samples: np.ndarray

    @property
    def kl(self) -> float:
        """The total KL per image, in nats (the sum over dimensions)."""
        return float(self.kl_per_dim.sum())


def measure_rung(
    model: VAE,
    beta: float,
    images: np.ndarray,
    map_indices: np.ndarray,
    stat_indices: np.ndarray,
    shown_indices: np.ndarray,
    prior_z: np.ndarray,
    recon_mse: float | None = None,
) -> Rung:
    """The rung of model (trained with beta): its map of images[map_indices], the numbers over
    images[stat_indices], the reconstructions of images[shown_indices] and the decoded prior_z
    (the same draws for every rung, so that the rungs differ only by their model).

    recon_mse: when known (the checkpoint's metrics, over the whole test split), it is taken
    as it is: decoding the measured images again took 2 s per 64x64 faces model."""
    codes = posterior(model, images, map_indices)[0]
    projection = fit_projection(codes)
    mu, logvar = posterior(model, images, stat_indices)
    if recon_mse is None:
        x = np.concatenate([b.numpy() for b in batches(images, indices=stat_indices)])
        recon_mse = float(((decode_all(model, mu.astype(np.float32)) - x) ** 2).mean())
    shown = decode_all(model, posterior(model, images, shown_indices)[0].astype(np.float32))
    return Rung(
        beta=float(beta),
        xy=projection.to_plane(codes),
        projection=projection,
        kl_per_dim=kl_per_dimension(mu, logvar),
        unit_variance=unit_variances(mu),
        active=active_units(mu),
        recon_mse=float(recon_mse),
        reconstructions=shown,
        samples=decode_all(model, prior_z.astype(np.float32)),
    )


def measured_subset(indices: np.ndarray, n: int = MAX_STAT_SAMPLES, seed: int = 0) -> np.ndarray:
    """At most n of indices, a seeded choice in sorted order (all of them when fewer)."""
    indices = np.asarray(indices)
    if len(indices) <= n:
        return indices
    return np.sort(np.random.default_rng(seed).choice(indices, size=n, replace=False))


def prior_draws(n_samples: int, latent_dim: int, seed: int = 0) -> np.ndarray:
    """(n_samples, latent_dim) draws from N(0, I), the same for every rung."""
    return sample_prior(n_samples, latent_dim, np.random.default_rng(seed))


def ladder_table(rungs: list[Rung]) -> dict[str, list]:
    """Columns of the table over the ladder: beta, reconstruction MSE, KL, active units."""
    latent_dim = len(rungs[0].kl_per_dim) if rungs else 0
    return {
        "beta": [r.beta for r in rungs],
        "reconstruction MSE": [r.recon_mse for r in rungs],
        "KL (nats)": [r.kl for r in rungs],
        f"active units (of {latent_dim})": [r.active for r in rungs],
    }


def kl_bars(rung: Rung) -> go.Figure:
    """Bars of the KL of each latent dimension, the active ones in colour, the inactive grey:
    a collapsed dimension is a bar at about 0."""
    active = rung.unit_variance > ACTIVE_THRESHOLD
    k = len(rung.kl_per_dim)
    fig = go.Figure(
        go.Bar(
            x=[f"z{i + 1}" for i in range(k)],
            y=rung.kl_per_dim,
            marker_color=[PALETTE[0] if a else "#bbbbbb" for a in active],
            customdata=rung.unit_variance,
            hovertemplate="%{x}: KL %{y:.3g} nats<br>variance of the mean %{customdata:.3g}"
            "<extra></extra>",
        )
    )
    fig.update_layout(
        title={"text": f"KL per dimension: {rung.active} of {k} active", "x": 0.02},
        height=260,
        margin={"l": 40, "r": 10, "t": 40, "b": 30},
        yaxis_title="nats per image",
        yaxis_rangemode="tozero",
    )
    return fig


def rung_map(
    rungs: list[Rung],
    beta: float,
    classes: np.ndarray | None,
    class_names: tuple[str, ...],
    same_scale: bool,
) -> go.Figure:
    """The map of the rung trained with beta, in Explore's look, coloured by classes (M,);
    one axis range over every rung's map when same_scale."""
    rung = next(r for r in rungs if r.beta == beta)
    title = f"VAE latent space, beta = {rung.beta:g}"
    return measured_map(rung, rungs if same_scale else [], title, classes, class_names)


def measured_map(
    rung: Rung,
    scale_with: list[Rung],
    title: str,
    classes: np.ndarray | None,
    class_names: tuple[str, ...],
) -> go.Figure:
    """A measured VAE's map titled title (" (K-D, PCA view)" added above 2-D), coloured by
    classes (M,); one axis range over the maps of scale_with (none: its own)."""
    k = len(rung.kl_per_dim)
    view = f" ({k}-D, PCA view)" if k > 2 else ""
    axis_range = shared_range(*(r.xy for r in scale_with)) if scale_with else None
    return latent_map(rung.xy, classes, class_names, title + view, map_axes(k), axis_range)
