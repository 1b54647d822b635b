"""The one training recipe the CLI and the app's jobs share: presets for whatever the user did
not choose (recipe), then models trained side by side (same data, seed, architecture and
batches), evaluated and saved (train_side_by_side)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from training.checkpoints import save_checkpoint
from training.config import TrainConfig
from training.data import Dataset
from training.distributed import is_main_process
from training.evaluate import evaluate
from training.fit import FitResult, Progress, fit
from training.models import AE, build_model
from training.presets import (
    default_arch,
    default_latent_dim,
    default_model_config,
    default_train_config,
)


@dataclass
class TrainedModel:
    """One model of a pair; path is None when nothing was saved (cancelled, or diverged in
    its first epoch)."""

    kind: str
    model: AE
    result: FitResult
    metrics: dict | None = None
    path: Path | None = None


def recipe(
    dataset: Dataset,
    arch: str | None = None,
    latent_dim: int | None = None,
    hidden: tuple[int, ...] | None = None,
    likelihood: str = "bernoulli",
    **train_overrides,
) -> tuple[TrainConfig, dict]:
    """(training config, model options) for dataset: the presets (training/presets.py) for
    every argument left None; train_overrides are TrainConfig fields (epochs, lr, beta, ...).
    The options name the architecture and latent size chosen, so a caller can show them."""
    arch = arch or default_arch(dataset.image_shape)
    latent_dim = latent_dim or default_latent_dim(dataset.image_shape, arch)
    n_train = int((~dataset.test_mask).sum())
    config = default_train_config(n_train, arch, **train_overrides)
    options = {"arch": arch, "latent_dim": latent_dim, "hidden": hidden, "likelihood": likelihood}
    return config, options


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
    rows = dataset.train_indices  # the train split's rows: fit reads them, nothing is copied
    trained = []
    for kind in kinds:
        model_config = default_model_config(dataset.image_shape, kind, **(model_options or {}))
        model = build_model(model_config, seed=config.seed)
        report = None if on_progress is None else (lambda p, kind=kind: on_progress(kind, p))
        result = fit(model, dataset.pixels, config, on_progress=report, cancel=cancel, indices=rows)
        entry = TrainedModel(kind, model, result)
        trained.append(entry)
        if result.status == "cancelled":
            break
        if result.history and is_main_process():  # under torchrun, rank 0 alone saves
            entry.metrics = evaluate(model, dataset)
            entry.path = save_checkpoint(
                Path(out_dir) / f"{kind}.safetensors",
                model, config, dataset, entry.metrics, result.history,
            )  # fmt: skip
    return trained
