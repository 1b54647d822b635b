"""What the "MLP vs conv vs GRU" instrument shows of a lineup of VAEs (training/lineup.py), one
per coder architecture: each one's error against PCA's, its number of weights, and the beta
dial's measures of a VAE (explorer/core/beta_dial.py: map, reconstructions, prior samples,
KL, active units). Pure NumPy + torch, no Streamlit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from torch import nn

from explorer.core.beta_dial import Rung, measure_rung, measured_map
from training.models import VAE

NAMES = {"mlp": "MLP", "conv": "Conv", "gru": "GRU", "lstm": "LSTM", "residual": "Residual"}
# How each coder reads an image, for a class: the one thing the lineup changes.
HOW_IT_READS = {
    "mlp": "sees every pixel at once: one weight from each pixel to each hidden unit",
    "conv": "slides small filters over the image: the same few weights at every place",
    "gru": "reads the image row by row, like a sentence, carrying a memory from row to row",
    "lstm": "reads the image row by row, like a sentence, with a gated memory",
    "residual": "starts from PCA and learns what PCA misses",
}


def arch_name(arch: str) -> str:
    """The name a page shows for arch ("MLP", "Conv", "GRU"); unknown ones as they are."""
    return NAMES.get(arch, arch)


def count_weights(model: nn.Module) -> int:
    """The number of trained values in model (its parameters; fitted buffers do not count)."""
    return sum(p.numel() for p in model.parameters())


@dataclass(frozen=True)
class Coder:
    """One VAE of the lineup: its architecture, the beta dial's measures of it (measured),
    its number of weights and PCA's test MSE at its latent size (None when unknown)."""

    arch: str
    measured: Rung
    n_weights: int
    pca_mse: float | None

    @property
    def pca_ratio(self) -> float | None:
        """Its test reconstruction MSE over PCA's: below 1 beats PCA with as many numbers."""
        if not self.pca_mse:
            return None
        return self.measured.recon_mse / self.pca_mse


def measure_coder(
    model: VAE,
    beta: float,
    metrics: dict,
    images: np.ndarray,
    map_indices: np.ndarray,
    stat_indices: np.ndarray,
    shown_indices: np.ndarray,
    prior_z: np.ndarray,
) -> Coder:
    """The lineup's VAE of model.config.arch, trained with beta: measure_rung's map, numbers,
    reconstructions and samples (the same images and draws for every coder), its error and
    PCA's from metrics (a checkpoint's, over the whole test split) where they are there."""
    measured = measure_rung(
        model,
        beta,
        images,
        map_indices,
        stat_indices,
        shown_indices,
        prior_z,
        recon_mse=metrics.get("recon_mse"),
    )
    return Coder(model.config.arch, measured, count_weights(model), metrics.get("pca_mse"))


def lineup_table(coders: list[Coder]) -> dict[str, list]:
    """Columns of the table over the lineup: coder, weights, test MSE, its ratio to PCA's, KL
    and active units."""
    latent_dim = len(coders[0].measured.kl_per_dim) if coders else 0
    return {
        "coder": [arch_name(c.arch) for c in coders],
        "weights": [c.n_weights for c in coders],
        "reconstruction MSE": [c.measured.recon_mse for c in coders],
        "x PCA's MSE": [c.pca_ratio for c in coders],
        "KL (nats)": [c.measured.kl for c in coders],
        f"active units (of {latent_dim})": [c.measured.active for c in coders],
    }


def coder_map(
    coders: list[Coder],
    arch: str,
    classes: np.ndarray | None,
    class_names: tuple[str, ...],
    same_scale: bool,
) -> go.Figure:
    """The map of the lineup's coder of arch, in Explore's look, coloured by classes (M,); one
    axis range over every coder's map when same_scale."""
    coder = next(c for c in coders if c.arch == arch)
    scale_with = [c.measured for c in coders] if same_scale else []
    title = f"{arch_name(arch)} VAE latent space"
    return measured_map(coder.measured, scale_with, title, classes, class_names)


def skip_note(arch: str, dataset: str, image_shape: tuple[int, ...], reason: str) -> str:
    """One line for a page: why arch is missing from dataset's lineup (reason: the config's
    "field: why", shown without the field's name, which means nothing to a class)."""
    shape = "x".join(str(s) for s in image_shape)
    return (
        f"{arch_name(arch)} is left out on {dataset} ({shape} images): {reason.split(': ', 1)[-1]}"
    )
