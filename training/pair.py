"""Train models side by side (same data, seed, architecture and batches) and save each one:
the one recipe both the CLI and the app's training jobs run."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from training.checkpoints import save_checkpoint
from training.config import TrainConfig
from training.data import Dataset
from training.evaluate import evaluate
from training.fit import FitResult, Progress, fit
from training.models import AE, build_model
from training.presets import default_model_config


@dataclass
class TrainedModel:
    """One model of a pair; path is None when nothing was saved (cancelled, or diverged in
    its first epoch)."""

    kind: str
    model: AE
    result: FitResult
    metrics: dict | None = None
    path: Path | None = None


def train_side_by_side(
    dataset: Dataset,
    kinds: tuple[str, ...],
    config: TrainConfig,
    out_dir: str | Path,
    model_options: dict | None = None,
    on_progress: Callable[[str, Progress], None] | None = None,
    cancel: threading.Event | None = None,
) -> list[TrainedModel]:
    """Fit each kind ("ae", "vae") on the train split, evaluate it and save it as
    out_dir/<kind>.safetensors. model_options go to default_model_config (arch, latent_dim,
    hidden, likelihood). A diverged model is saved with its restored weights if at least one
    epoch finished; a cancel stops the pair and saves nothing more."""
    train, _ = dataset.split()
    trained = []
    for kind in kinds:
        model_config = default_model_config(dataset.image_shape, kind, **(model_options or {}))
        model = build_model(model_config, seed=config.seed)
        report = None if on_progress is None else (lambda p, kind=kind: on_progress(kind, p))
        result = fit(model, train.images, config, on_progress=report, cancel=cancel)
        entry = TrainedModel(kind, model, result)
        trained.append(entry)
        if result.status == "cancelled":
            break
        if result.history:
            entry.metrics = evaluate(model, dataset)
            entry.path = save_checkpoint(
                Path(out_dir) / f"{kind}.safetensors",
                model, config, dataset, entry.metrics, result.history,
            )  # fmt: skip
    return trained
