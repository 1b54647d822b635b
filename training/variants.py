"""A set of named model variants trained one after another on the same data: the beta dial's
ladder (training/ladder.py, one VAE per beta) and the architecture lineup (training/lineup.py,
one VAE per coder). Each variant is fitted on the train split, evaluated on the test split
against one PCA baseline per latent size, and saved atomically where it says."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path

from training.checkpoints import save_checkpoint
from training.config import ModelConfig, TrainConfig
from training.data import Dataset
from training.evaluate import evaluate
from training.fit import Progress, fit
from training.recipe import TrainedModel, prepared_models


@dataclass(frozen=True)
class Variant:
    """One model of a set: what it is (model), how it is fitted (train), where it is saved."""

    model: ModelConfig
    train: TrainConfig
    path: Path


def train_variants(
    dataset: Dataset,
    variants: dict[Hashable, Variant],
    on_progress: Callable[[Hashable, Progress], None] | None = None,
    cancel: threading.Event | None = None,
) -> dict[Hashable, TrainedModel]:
    """Fit each variant in order (seeded by its train config: with one seed and batch size
    every variant sees the same batches), evaluate it and save it at its path. A variant that
    diverged in its first epoch has nothing to keep (its path stays None); a cancel stops the
    set: the variant in training and those after it are not saved."""
    first = next(iter(variants.values()), None)
    if first is None:
        return {}
    models = prepared_models({k: v.model for k, v in variants.items()}, dataset, first.train)
    trained: dict[Hashable, TrainedModel] = {}
    baseline: dict[int, float] = {}  # latent_dim -> PCA's test MSE, computed once per size
    for name, variant in variants.items():
        model = models[name]
        report = None if on_progress is None else (lambda p, n=name: on_progress(n, p))
        result = fit(
            model,
            dataset.pixels,
            variant.train,
            on_progress=report,
            cancel=cancel,
            indices=dataset.train_indices,
        )
        entry = trained[name] = TrainedModel(variant.model.kind, model, result)
        if result.status == "cancelled":
            break
        if result.history:
            latent_dim = variant.model.latent_dim
            entry.metrics = evaluate(model, dataset, pca_baseline=baseline.get(latent_dim))
            baseline[latent_dim] = entry.metrics["pca_mse"]
            entry.path = save_checkpoint(
                variant.path, model, variant.train, dataset, entry.metrics, result.history
            )
    return trained
