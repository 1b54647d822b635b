"""A set of named model variants trained one after another on the same data: the beta dial's
ladder (training/ladder.py, one VAE per beta) and the architecture lineup (training/lineup.py,
one VAE per coder). Each variant is fitted on the train split, evaluated on the test split
against one PCA baseline per latent size, and saved atomically where it says."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path

import torch

from training.checkpoints import save_checkpoint
from training.config import ModelConfig, TrainConfig
from training.data import Dataset
from training.evaluate import evaluate
from training.fit import (
    Batches,
    Progress,
    as_float_batch,
    fit,
    make_batch_loss,
    resolve_precision,
)
from training.models import AE
from training.recipe import TrainedModel, prepared_models

# name, its latest progress, and the set's share done, weighted by each variant's measured cost
SetProgress = Callable[[Hashable, Progress, float], None]


@dataclass(frozen=True)
class Variant:
    """One model of a set: what it is (model), how it is fitted (train), where it is saved."""

    model: ModelConfig
    train: TrainConfig
    path: Path


def train_variants(
    dataset: Dataset,
    variants: dict[Hashable, Variant],
    on_progress: SetProgress | None = None,
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
    shares = time_shares(models, variants, dataset) if on_progress else {}
    trained: dict[Hashable, TrainedModel] = {}
    baseline: dict[int, float] = {}  # latent_dim -> PCA's test MSE, computed once per size
    done = 0.0  # the shares of the variants trained before this one
    for name, variant in variants.items():
        model = models[name]
        report = None if on_progress is None else reporter(on_progress, name, done, shares[name])
        done += shares.get(name, 0.0)
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


def reporter(
    on_progress: SetProgress, name: Hashable, before: float, share: float
) -> Callable[[Progress], None]:
    """fit's progress for one variant as the set's: before is the share of the set done."""
    return lambda p: on_progress(name, p, before + share * p.step / p.n_steps)


def time_shares(
    models: dict[Hashable, AE], variants: dict[Hashable, Variant], dataset: Dataset
) -> dict[Hashable, float]:
    """Each variant's share of the set's training time (summing to 1): its steps times the
    seconds one of its steps takes, measured. Counting variants alike put the time left at
    0.24-0.41x the real one on the digits lineup (a fast MLP first, a slow GRU last)."""
    costs = {}
    for name, variant in variants.items():
        batches = Batches.of(
            dataset.pixels, dataset.train_indices, variant.train.batch_size, variant.train.seed
        )
        steps = batches.steps_per_epoch * variant.train.epochs
        images = batches.sample(batches.batch_size, 0)
        costs[name] = steps * step_seconds(models[name], images, variant.train)
    total = sum(costs.values())
    if not total > 0:  # nothing measurable: count the variants alike
        return {name: 1 / len(costs) for name in costs}
    return {name: cost / total for name, cost in costs.items()}


def step_seconds(model: AE, images: torch.Tensor, config: TrainConfig, repeats: int = 2) -> float:
    """Seconds one training step of model under config takes on the stored images (one batch)
    on the CPU: a forward and backward pass in the precision fit would choose there (bf16 made
    a GRU 2x faster than fp32 timed), the fastest of repeats (the first warms up). In eval mode
    and without an update, so that nothing in the model changes."""
    cpu = torch.device("cpu")
    precision = resolve_precision(config.precision, cpu, model)
    batch_loss = make_batch_loss(model, config, precision, torch.Generator().manual_seed(0))
    x = as_float_batch(images, cpu)
    was_training, seconds = model.training, []
    model.eval()
    for _ in range(repeats):
        start = time.perf_counter()
        batch_loss(x)["total"].backward()
        seconds.append(time.perf_counter() - start)
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    return min(seconds)
