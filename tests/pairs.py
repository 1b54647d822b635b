"""Small trained models for tests: `train_defaults` (an AE and a VAE side by side, saved where the
app looks for its default models), `fit_pair` (an AE and a VAE fitted in memory) and
`small_digits_pair` (the instruments' tests' pair: shared, so that every module measures the
same models)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from explorer.core.model_pair import ModelPair, build_pair
from training.config import ModelConfig, TrainConfig
from training.data import Dataset
from training.fit import fit
from training.models import build_model
from training.recipe import TrainedModel, train_side_by_side


def train_defaults(
    runs: Path, dataset: Dataset, epochs: int, batch_size: int = 128, first: int | None = None
) -> list[TrainedModel]:
    """Small default models for the app on `dataset` (its first `first` images where given): an
    AE and a VAE trained side by side in fp32 (train_side_by_side: the default architecture)
    into runs/default/<dataset name>, so that its pages open on them at once."""
    if first is not None:
        dataset = dataset.subset(np.arange(dataset.n_samples) < first)
    config = TrainConfig(epochs=epochs, batch_size=batch_size, precision="fp32")
    return train_side_by_side(dataset, ("ae", "vae"), config, Path(runs) / "default" / dataset.name)


def fit_pair(
    dataset: Dataset, epochs: int, batch_size: int = 128, train_split: bool = False, **model
) -> list:
    """An AE and a VAE (ModelConfig(kind, dataset's image shape, **model)) fitted in fp32 on all
    the images, or on the train split alone where train_split."""
    indices = dataset.train_indices if train_split else None
    config = TrainConfig(epochs=epochs, batch_size=batch_size, precision="fp32")
    models = []
    for kind in ("ae", "vae"):
        m = build_model(ModelConfig(kind=kind, image_shape=dataset.image_shape, **model))
        fit(m, dataset.pixels, config, indices=indices)
        models.append(m)
    return models


def small_digits_pair(digits: Dataset) -> ModelPair:
    """An AE and a VAE (64 hidden units, 30 epochs) on the digits' train split, 500 points."""
    models = fit_pair(digits, epochs=30, train_split=True, hidden=(64,))
    return build_pair(digits, *models, "test", max_points=500)
