"""Denoising and the encoder as a feature extractor: a denoising AE trained like the pair's
AE, seeded noise, and a linear probe (logistic regression) on AE, VAE and PCA codes with its
confusion matrix. NumPy + torch + scikit-learn."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from explorer.core.display import plotly_text
from training.config import ModelConfig, TrainConfig
from training.data import Dataset
from training.evaluate import fit_linear_probe, probe_targets
from training.fit import Progress, fit
from training.models import AE, build_model
from training.recipe import recipe

if TYPE_CHECKING:
    from explorer.core.model_pair import ModelPair

NOISE_STD = 0.4  # the denoising AE's training noise: digits stay readable, yet are badly hit
PROBE_KINDS = ("ae", "vae", "pca")


# ---- denoising ----


def add_noise(images: np.ndarray, std: float, seed: int) -> np.ndarray:
    """x + std * N(0, I), clipped to [0, 1], as a denoising AE is trained (training/fit.py):
    (N, C, H, W) uint8 or floats in [0, 1] -> float32; the same seed gives the same noise."""
    if std < 0:
        raise ValueError(f"std: must be >= 0, got {std}")
    x = np.asarray(images, dtype=np.float32)
    x = x / np.float32(255) if np.asarray(images).dtype == np.uint8 else x
    noise = np.random.default_rng(seed).standard_normal(x.shape, dtype=np.float32)
    return np.clip(x + np.float32(std) * noise, 0, 1)


def per_image_mse(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(N,) mean squared error per pixel between two (N, C, H, W) batches."""
    return ((np.asarray(x, np.float64) - y) ** 2).reshape(len(x), -1).mean(1)


def denoising_configs(
    ae_config: ModelConfig, dataset: Dataset, noise_std: float = NOISE_STD
) -> tuple[ModelConfig, TrainConfig]:
    """The denoising AE's model (the pair's AE's architecture) and its training: the dataset's
    quick (preview) recipe for that architecture (training/recipe.py) with input noise
    noise_std: it trains while the page waits."""
    model = replace(ae_config, kind="ae")
    quick = recipe(
        dataset,
        arch=model.arch,
        latent_dim=model.latent_dim,
        hidden=model.hidden,
        likelihood=model.likelihood,
        noise_std=noise_std,
        precision="fp32",
        stage="preview",
    )
    return model, quick.train


def train_denoising_ae(
    dataset: Dataset,
    model: ModelConfig,
    config: TrainConfig,
    like: AE | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> AE:
    """A fresh AE of config `model`, fitted with `config` (noisy inputs, clean targets) on the
    dataset's train split; like: a model of the same architecture fitted on the same images
    (the pair's AE), whose PCA the residual coders take instead of fitting their own."""
    ae = build_model(model, config.seed)
    if like is not None:
        ae.prepare_like(like)
    result = fit(ae, dataset.pixels, config, on_progress, indices=dataset.train_indices)
    if result.status != "finished":
        raise RuntimeError(f"the denoising AE did not train: {result.message}")
    return ae.eval()


def training_seconds(
    dataset: Dataset,
    model: ModelConfig,
    config: TrainConfig,
    like: AE | None = None,
    steps: int = 10,
) -> float:
    """About how long train_denoising_ae takes here: a few steps timed, scaled to all (the
    first steps are slower: an overestimate)."""
    ae = build_model(model, config.seed)
    if like is not None:
        ae.prepare_like(like)
    rows = dataset.train_indices[: steps * config.batch_size]
    trial = fit(ae, dataset.pixels, replace(config, epochs=1), indices=rows)
    n_samples = config.epochs * (len(dataset.train_indices) // config.batch_size)
    return n_samples * config.batch_size / max(trial.samples_per_s, 1.0)


# ---- the linear probe ----


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) int64 counts: row = true class, column = predicted class."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"need two 1-D label arrays of one length: {y_true.shape}, {y_pred.shape}")
    y_true, y_pred = y_true.astype(np.int64), y_pred.astype(np.int64)  # ([] reads as floats)
    if len(y_true) and (
        min(y_true.min(), y_pred.min()) < 0 or max(y_true.max(), y_pred.max()) >= n_classes
    ):
        raise ValueError(f"labels must be in [0, {n_classes})")
    counts = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes).astype(np.int64)


def probe(
    train_codes: np.ndarray, train_y: np.ndarray, test_codes: np.ndarray
) -> np.ndarray | None:
    """The linear probe's predicted labels (M,) of test_codes (M, K), fitted on train_codes
    (N, K) with labels (N,) (training/evaluate.py); None with fewer than two classes."""
    if len(np.unique(train_y)) < 2:
        return None
    return fit_linear_probe(train_codes, train_y).predict(test_codes)


def targets(dataset: Dataset) -> dict[str, tuple[np.ndarray, tuple[str, ...]]]:
    """What a probe can predict, by name: (labels (N,), class names): the class, else each
    binary attribute (probe_targets' order)."""
    found = probe_targets(dataset)
    if dataset.labels is not None:
        return {"class": (found[0], dataset.class_names)}
    names = dataset.attribute_names
    return {name: (y, (f"not {name}", name)) for name, y in zip(names, found, strict=True)}


@dataclass(frozen=True)
class ProbeCodes:
    """Codes (rows, K) of train and test images per kind ("ae", "vae", "pca"), and those
    images' rows in the dataset."""

    train_rows: np.ndarray
    test_rows: np.ndarray
    train: dict[str, np.ndarray]
    test: dict[str, np.ndarray]


def probe_codes(pair: ModelPair) -> ProbeCodes:
    """The pair's plotted points split into train and test images, with their AE and VAE codes
    (already encoded for the maps: nothing to compute) and their PCA codes of as many
    components (the pair's PCA, fitted on those images without labels)."""
    is_test = pair.dataset.test_mask[pair.indices]
    pca = pair.pca.transform(pair.flat_images())[:, : pair.latent_dim]
    codes = {"ae": pair.codes["ae"], "vae": pair.codes["vae"], "pca": pca}
    return ProbeCodes(
        train_rows=pair.indices[~is_test],
        test_rows=pair.indices[is_test],
        train={kind: c[~is_test] for kind, c in codes.items()},
        test={kind: c[is_test] for kind, c in codes.items()},
    )


def probe_predictions(codes: ProbeCodes, y: np.ndarray) -> dict[str, np.ndarray] | None:
    """kind -> the probe's predictions on the test codes, for labels y (one per dataset row);
    None when the train images hold fewer than two classes."""
    found = {
        kind: probe(codes.train[kind], y[codes.train_rows], codes.test[kind])
        for kind in PROBE_KINDS
    }
    return None if any(p is None for p in found.values()) else found


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.asarray(y_true) == y_pred))


def chance(y: np.ndarray) -> float:
    """The accuracy of always guessing the most common label."""
    return float(np.bincount(y).max() / len(y))


def confusion_figure(counts: np.ndarray, class_names: tuple[str, ...], title: str) -> go.Figure:
    """A heat map of a confusion matrix (rows true, columns predicted), counts written on it."""
    names = [plotly_text(n) for n in class_names] or [str(i) for i in range(len(counts))]
    heatmap = go.Heatmap(
        z=counts,
        x=names,
        y=names,
        colorscale="Blues",
        showscale=False,
        text=counts,
        texttemplate="%{text}",
        hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
    )
    fig = go.Figure(heatmap)
    fig.update_layout(
        title=plotly_text(title),
        height=min(520, 200 + 30 * len(names)),
        margin={"t": 40, "b": 10, "l": 10, "r": 10},
    )
    fig.update_xaxes(title_text="predicted", type="category")
    fig.update_yaxes(title_text="true", type="category", autorange="reversed")
    return fig
