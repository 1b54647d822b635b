"""The one training recipe the CLI and the app's jobs share: presets for whatever the user did
not choose (recipe), then models trained side by side (same data, seed, architecture and
batches), evaluated and saved (train_side_by_side)."""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

from training import distributed, timelapse
from training.checkpoints import save_checkpoint
from training.config import RECURRENT_ARCHS, ModelConfig, Recipe, TrainConfig
from training.data import Dataset
from training.evaluate import evaluate
from training.fit import FitResult, Progress, fit, prepare, resolve_device
from training.models import AE, build_model
from training.presets import (
    DATASET_RECIPES,
    default_arch,
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
    likelihood: str | None = None,
    stage: str = "full",
    **train_overrides,
) -> Recipe:
    """The pair to train on dataset: for every argument left None, the best recipe measured for
    this dataset (presets.DATASET_RECIPES), else the presets' rules; train_overrides are
    TrainConfig fields (epochs, lr, beta, ...). stage "preview": the quick pair to look at while
    the full one trains (the presets' rules alone: no dataset's best recipe). A ValueError
    names the first field out of range, the training's checked before the model's."""
    best = dict(DATASET_RECIPES.get(dataset.name, {})) if stage == "full" else {}
    best_hidden = best.pop("hidden", None)  # a model option; the rest are TrainConfig fields
    arch = arch or default_arch(dataset.image_shape, stage)
    if arch in RECURRENT_ARCHS:  # the best hidden sizes are an MLP's, not a recurrent state
        best_hidden = None
    given = {k: v for k, v in train_overrides.items() if v is not None}
    train = default_train_config(len(dataset.train_indices), arch, stage, **{**best, **given})
    model = default_model_config(
        dataset.image_shape, "vae", arch, latent_dim, hidden or best_hidden, likelihood
    )
    return Recipe(model, train)


def has_preview(dataset: Dataset) -> bool:
    """Whether the dataset's preview pair differs from its full pair (a quicker one exists)."""
    return recipe(dataset, stage="preview") != recipe(dataset)


def train_side_by_side(
    dataset: Dataset,
    kinds: tuple[str, ...],
    config: TrainConfig,
    out_dir: str | Path,
    model_config: ModelConfig | None = None,
    on_progress: Callable[[str, Progress], None] | None = None,
    cancel: threading.Event | None = None,
    record: bool = True,
) -> list[TrainedModel]:
    """Fit each kind ("ae", "vae") on the train split, evaluate it and save it as
    out_dir/<kind>.safetensors, the kinds side by side on their own cores where there are
    enough (trains_in_parallel), else one after the other. model_config: the pair's model, its
    kind replaced by each kind (None: the presets' default for the images). A diverged model
    is saved with its restored weights if at least one epoch finished; a cancel stops the pair
    and saves nothing more. record: also record the saved models' training time-lapse (the
    same images for each kind) in out_dir/timelapse.safetensors; it leaves the weights
    unchanged."""

    model_config = model_config or default_model_config(dataset.image_shape, "vae")
    configs = {kind: replace(model_config, kind=kind) for kind in kinds}
    models = prepared_models(configs, dataset, config)
    n_images, n_frames = timelapse.plan(
        len(dataset.train_indices), config.batch_size, config.epochs, math.prod(dataset.image_shape)
    )
    recorded = timelapse.subset_indices(dataset.train_indices, config.seed, n_images)
    recorders = {
        kind: timelapse.Recorder(model, dataset.pixels[recorded], n_frames)
        for kind, model in models.items()
        if record
    }

    def train_one(kind: str) -> TrainedModel:
        model = models[kind]
        report = None if on_progress is None else (lambda p: on_progress(kind, p))
        if kind in recorders:
            report = recording(recorders[kind], report)
        result = fit(
            model,
            dataset.pixels,
            config,
            on_progress=report,
            cancel=cancel,
            indices=dataset.train_indices,
        )
        return TrainedModel(kind, model, result)

    if trains_in_parallel(kinds, config):
        with one_thread_each(), ThreadPoolExecutor(len(kinds)) as pool:
            trained = list(pool.map(train_one, kinds))
    else:
        trained = []
        for kind in kinds:
            trained.append(train_one(kind))
            if trained[-1].result.status == "cancelled":
                break
    if distributed.is_main_process():  # under torchrun, rank 0 alone evaluates and saves
        evaluate_and_save(trained, dataset, config, out_dir)
        save_recordings(trained, recorders, dataset.name, recorded, out_dir)
    return trained


def prepared_models(model_configs: dict, dataset: Dataset, config: TrainConfig) -> dict:
    """Fresh models (seeded by config.seed) by the keys of model_configs, sharing one fitted
    PCA where they have one (residual models): the first is prepared on the training images,
    the rest take its preparation."""
    models = {key: build_model(c, config.seed) for key, c in model_configs.items()}
    first, *others = models.values()
    prepare(first, dataset.pixels, config, dataset.train_indices)
    for model in others:
        model.prepare_like(first)
    return models


def recording(
    recorder: timelapse.Recorder, report: Callable[[Progress], None] | None
) -> Callable[[Progress], None]:
    """A progress callback that records a frame when one is due, then reports; the frame
    before training is recorded now."""
    recorder.start()

    def record_and_report(p: Progress) -> None:
        recorder(p)
        if report is not None:
            report(p)

    return record_and_report


def save_recordings(
    trained: list[TrainedModel],
    recorders: dict[str, timelapse.Recorder],
    dataset: str,
    indices,
    out_dir: str | Path,
) -> None:
    """Save the time-lapse of the models that were saved, beside them. A diverged model's
    weights were restored to an earlier epoch, which its frames run past: it has none."""
    tracks = {
        e.kind: recorders[e.kind].track()
        for e in trained
        if e.path is not None and e.result.status == "finished" and e.kind in recorders
    }
    if tracks:
        lapse = timelapse.Timelapse(dataset, indices, tracks)
        timelapse.save_timelapse(Path(out_dir) / timelapse.FILENAME, lapse)


def evaluate_and_save(
    trained: list[TrainedModel], dataset: Dataset, config: TrainConfig, out_dir: str | Path
) -> None:
    """Evaluate and save each model that trained at least one epoch and was not cancelled, one
    at a time with every core (two evaluations at once held two of everything: the 200,000
    image case peaked above 1.5x its pixels), against one PCA baseline for the pair."""
    baseline: dict[int, float] = {}  # latent_dim -> PCA's test MSE
    for entry in trained:
        if entry.result.status == "cancelled" or not entry.result.history:
            continue
        latent_dim = entry.model.config.latent_dim
        entry.metrics = evaluate(entry.model, dataset, pca_baseline=baseline.get(latent_dim))
        baseline[latent_dim] = entry.metrics["pca_mse"]
        entry.path = save_checkpoint(
            Path(out_dir) / f"{entry.kind}.safetensors",
            entry.model,
            config,
            dataset,
            entry.metrics,
            entry.result.history,
        )


def trains_in_parallel(kinds: tuple[str, ...], config: TrainConfig) -> bool:
    """The models of a pair train at once, one core each, where a CPU has a core per model
    (and not under torchrun, whose processes already share the cores). Small models use two
    cores poorly: measured on 2 cores, the pair's training ends 1.3x sooner (docs/training.md)."""
    return (
        len(kinds) > 1
        and resolve_device(config.device).type == "cpu"
        and distributed.world_size() == 1
        and distributed.threads_per_process() >= len(kinds)
    )


@contextlib.contextmanager
def one_thread_each():
    """Thread counts are per process: torch's and BLAS's (the evaluation's PCA) are 1 while
    models train side by side in threads, so that two models do not fight over each core
    (oversubscribed cores ran 12x slower, NOTES)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(before)
