"""Fake detection: a model of a population scores how unlike it an image is. Anomaly scores
(reconstruction error; the VAE's negative ELBO), out-of-distribution (OOD) sets to score, and
the ROC curve that says how well a score separates them from the test images. NumPy + torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from plotly.subplots import make_subplots

from training.data import DataOptions, DatasetError, load_dataset
from training.data.dataset import to_float_images
from training.evaluate import negative_elbos, reconstruction_errors
from training.models import AE, VAE

if TYPE_CHECKING:
    from explorer.core.model_pair import ModelPair

SCORE_NAMES = {"recon": "reconstruction error", "neg_elbo": "negative ELBO"}
SCORE_UNITS = {"recon": "MSE per pixel", "neg_elbo": "nats per image"}
# The columns of every table and figure: (model kind, score).
COLUMNS = (("ae", "recon"), ("vae", "recon"), ("vae", "neg_elbo"))
# Another dataset of the right kind to show each model, where it is found (resized to fit).
OTHER_DATASETS = {
    "digits": ("fashion-mnist", "mnist"),
    "mnist": ("fashion-mnist",),
    "fashion-mnist": ("mnist",),
    "faces": ("celeba",),
    "celeba": ("faces",),
}
# Images per scored set: enough for a smooth histogram, few enough for a view within a second.
MAX_SCORED = 2000
# ... and at most this many pixel values: 256 at 64x64 RGB (341 made the first draw on faces
# 1.2 s against a 1 s target; the AUCs' standard error stays about 0.02)
MAX_SCORED_VALUES = 3 * 2**20
# Images of another dataset: read from a prefix of 10x as many (CelebA's files are decoded
# once, then cached), of which about a tenth is the test split.
MAX_OTHER = 500


def column_name(kind: str, score: str) -> str:
    return f"{kind.upper()} {SCORE_NAMES[score]}"


def scores(model: AE, images: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Anomaly scores of images (N, C, H, W), uint8 or floats in [0, 1]; higher = less like the
    training data. "recon": (N,) MSE per pixel of decode(encode(x)); for a VAE also "neg_elbo":
    (N,) -ELBO in nats, one z sample per image drawn with seed (not binarized)."""
    found = {"recon": reconstruction_errors(model, images)}
    if isinstance(model, VAE):
        found["neg_elbo"] = negative_elbos(model, images, seed)
    return found


def _checked(values, name: str) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or len(x) == 0:
        raise ValueError(f"{name}: need a non-empty 1-D array of scores, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: scores must be finite (found NaN or inf)")
    return x


def roc_curve(in_scores, out_scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """fpr, tpr, thresholds of the detector "out of distribution when score >= threshold":
    out_scores are the positives. Every distinct score is a threshold, highest first, after
    +inf (nothing flagged): sklearn.metrics.roc_curve(..., drop_intermediate=False)."""
    negatives, positives = _checked(in_scores, "in_scores"), _checked(out_scores, "out_scores")
    s = np.concatenate([negatives, positives])
    y = np.concatenate([np.zeros(len(negatives)), np.ones(len(positives))])
    order = np.argsort(s, kind="mergesort")[::-1]
    s, y = s[order], y[order]
    # The last row of each run of equal scores: tied images are flagged together.
    ends = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(y)[ends]
    fps = ends + 1 - tps
    fpr = np.r_[0.0, fps / len(negatives)]
    tpr = np.r_[0.0, tps / len(positives)]
    return fpr, tpr, np.r_[np.inf, s[ends]]


def roc_auc(in_scores, out_scores) -> float:
    """The area under roc_curve: the chance that a random OOD image scores higher than a random
    test image (ties count half); 0.5 is chance, 1 a perfect detector."""
    fpr, tpr, _ = roc_curve(in_scores, out_scores)
    return float(np.trapezoid(tpr, fpr))


def share_below(value: float, in_scores: np.ndarray) -> float:
    """The fraction of in_scores below value (ties count half): where value sits among them."""
    return float(np.mean(in_scores < value) + 0.5 * np.mean(in_scores == value))


# ---- out-of-distribution sets ----


def inverted(images: np.ndarray) -> np.ndarray:
    """1 - x: the same shapes, dark and light swapped. (N, C, H, W) in [0, 1] -> same."""
    return (1.0 - np.asarray(images, dtype=np.float32)).astype(np.float32)


def shuffled_pixels(images: np.ndarray, seed: int) -> np.ndarray:
    """Each image's pixel positions shuffled (a seeded permutation per image, colours kept
    together): the same pixel values, no shape. (N, C, H, W) -> same, float32."""
    x = np.asarray(images, dtype=np.float32)
    n, c, h, w = x.shape
    rng = np.random.default_rng(seed)
    order = rng.permuted(np.tile(np.arange(h * w), (n, 1)), axis=1)  # (N, H*W)
    flat = x.reshape(n, c, h * w)
    return np.take_along_axis(flat, order[:, None, :], axis=2).reshape(x.shape)


def uniform_noise(n: int, image_shape: tuple[int, int, int], seed: int) -> np.ndarray:
    """(n, C, H, W) float32 pixels drawn uniformly from [0, 1]."""
    return np.random.default_rng(seed).random((n, *image_shape), dtype=np.float32)


def conformed(images: np.ndarray, image_shape: tuple[int, int, int]) -> np.ndarray:
    """Another dataset's images (N, C', H', W'), uint8 or floats in [0, 1], made the shape of
    image_shape (C, H, W): grey <-> colour, then an antialiased resize. float32 in [0, 1]."""
    c, h, w = image_shape
    x = torch.from_numpy(to_float_images(images) if images.dtype == np.uint8 else images)
    x = x.float()
    if x.shape[1] != c:  # grey from colour: the channels' mean; colour from grey: repeated
        x = x.mean(1, keepdim=True).expand(-1, c, -1, -1)
    if x.shape[2:] != (h, w):
        x = F.interpolate(x, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
    return x.clamp(0, 1).numpy()


def transformed_sets(images: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """OOD sets made from the dataset's own images (N, C, H, W) in [0, 1], for any dataset."""
    return {
        "inverted": inverted(images),
        "pixels shuffled": shuffled_pixels(images, seed),
        "uniform noise": uniform_noise(len(images), images.shape[1:], seed),
    }


def other_dataset_sets(
    name: str, image_shape: tuple[int, int, int], data_dir: str | Path | None, n: int, seed: int
) -> dict[str, np.ndarray]:
    """Up to min(n, MAX_OTHER) seeded test images of each other dataset (OTHER_DATASETS[name])
    found here, made the shape image_shape: {"<dataset> (resized)": (n', C, H, W) float32}.
    Absent ones are left out."""
    found, n = {}, min(n, MAX_OTHER)
    for other in OTHER_DATASETS.get(name, ()):
        size = image_shape[1] if other in ("faces", "celeba") else None  # drawn at our size
        options = DataOptions(limit=max(n, 20) * 10, image_size=size)
        try:
            data = load_dataset(other, data_dir, options)
        except (DatasetError, ValueError):
            continue
        rows = data.test_indices
        rows = np.sort(np.random.default_rng(seed).permutation(rows)[:n])
        label = other if data.image_shape == tuple(image_shape) else f"{other} (resized)"
        found[label] = conformed(data.pixels[rows], image_shape)
    return found


# ---- what the view draws, built once per pair ----


@dataclass(frozen=True)
class FakeReport:
    """in_scores: (kind, score) -> (N,) scores of N seeded test images; sets: OOD name ->
    (M, C, H, W) uint8 images; out_scores: OOD name -> (kind, score) -> (M,) scores."""

    in_scores: dict[tuple[str, str], np.ndarray]
    sets: dict[str, np.ndarray]
    out_scores: dict[str, dict[tuple[str, str], np.ndarray]]

    def aucs(self) -> dict[str, dict[tuple[str, str], float]]:
        """OOD name -> (kind, score) -> ROC AUC against the test images."""
        return {
            name: {col: roc_auc(self.in_scores[col], out[col]) for col in COLUMNS}
            for name, out in self.out_scores.items()
        }


def score_columns(pair: ModelPair, images: np.ndarray, seed: int = 0) -> dict:
    """(kind, score) -> (N,) scores of images for every column of COLUMNS."""
    by_kind = {kind: scores(pair.models[kind], images, seed) for kind in ("ae", "vae")}
    return {(kind, score): by_kind[kind][score] for kind, score in COLUMNS}


def fake_report(pair: ModelPair, data_dir: str | Path | None, seed: int = 0) -> FakeReport:
    """Scores of up to MAX_SCORED seeded test images and of every OOD set of as many images."""
    dataset = pair.dataset
    n = min(MAX_SCORED, MAX_SCORED_VALUES // math.prod(dataset.image_shape))
    rng = np.random.default_rng(seed)
    test = np.sort(rng.permutation(dataset.test_indices)[:n])
    clean = dataset.floats(test)
    # Another dataset first: the subtler test, where AE and VAE differ (the changed images are
    # told apart by every score).
    sets = other_dataset_sets(dataset.name, dataset.image_shape, data_dir, len(test), seed)
    sets |= transformed_sets(clean, seed)
    # Kept as bytes, a quarter of the memory; scored as stored, so a shown image's score is its.
    sets = {name: np.round(x * 255).astype(np.uint8) for name, x in sets.items()}
    return FakeReport(
        in_scores=score_columns(pair, dataset.pixels[test], seed),
        sets=sets,
        out_scores={name: score_columns(pair, x, seed) for name, x in sets.items()},
    )


# ---- figures ----


def score_histograms(
    in_scores: dict[tuple[str, str], np.ndarray],
    marks: dict[tuple[str, str], float] | None = None,
    out_scores: dict[tuple[str, str], np.ndarray] | None = None,
    out_name: str = "",
) -> go.Figure:
    """One histogram per column of the test images' scores, an optional OOD set's beside them,
    and a chosen image's score as a red vertical line."""
    fig = make_subplots(1, len(COLUMNS), subplot_titles=[column_name(*c) for c in COLUMNS])
    for i, col in enumerate(COLUMNS, 1):
        fig.add_trace(_histogram(in_scores[col], "test images", "#1f77b4", i == 1), 1, i)
        if out_scores is not None:
            fig.add_trace(_histogram(out_scores[col], out_name, "#ff7f0e", i == 1), 1, i)
        if marks is not None:
            fig.add_vline(x=marks[col], line_color="#d62728", line_width=3, row=1, col=i)
        fig.update_xaxes(title_text=SCORE_UNITS[col[1]], row=1, col=i)
    fig.update_layout(
        barmode="overlay",
        height=300,
        margin={"t": 40, "b": 10, "l": 10, "r": 10},
        legend={"orientation": "h", "y": -0.3},
    )
    return fig


def _histogram(values: np.ndarray, name: str, color: str, legend: bool) -> go.Histogram:
    return go.Histogram(
        x=values,
        name=name,
        marker_color=color,
        opacity=0.6,
        nbinsx=40,
        histnorm="probability",
        showlegend=legend,
        legendgroup=name,
    )


def roc_figure(report: FakeReport, out_name: str) -> go.Figure:
    """The ROC curve of each column for test images vs the OOD set out_name, with AUCs."""
    fig = go.Figure()
    for col, color in zip(COLUMNS, ("#1f77b4", "#ff7f0e", "#2ca02c"), strict=True):
        in_s, out_s = report.in_scores[col], report.out_scores[out_name][col]
        fpr, tpr, _ = roc_curve(in_s, out_s)
        name = f"{column_name(*col)}: AUC {roc_auc(in_s, out_s):.2f}"
        fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", line_color=color, name=name))
    fig.add_trace(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"dash": "dot", "color": "grey"}
        )
    )
    fig.update_layout(
        title=f"Test images vs {out_name}",
        height=340,
        margin={"t": 40, "b": 10, "l": 10, "r": 10},
        xaxis_title="false alarms (test images flagged)",
        yaxis_title="OOD images caught",
        legend={"x": 0.35, "y": 0.05},
    )
    return fig
