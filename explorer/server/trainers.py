"""The server's own training, started once per server and key in a daemon thread: each dataset's
default pair (explorer/server/defaults.py), its beta dial's ladder, its lineup of coders (MLP,
conv, GRU) and a denoising AE. Sessions
never train in a script run (it dies at the next widget interaction: docs/design.md, "Training
in the background"): they ask the registry, which starts the work unless it runs already, and
poll its state. A labelled task holds a slot of the JobManager while it runs, so the cap counts
it and the Train page lists it; the default pair's chain holds none (its TrainingJobs hold
theirs). No Streamlit here.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from explorer.core import features
from explorer.core.architectures import arch_name
from explorer.server.runs import PARTIAL_FOLDER_SUFFIX
from explorer.server.slots import HeldTask, JobManager
from training.config import ModelConfig, TrainConfig
from training.data import Dataset
from training.fit import Progress
from training.ladder import DEFAULT_BETAS, train_ladder
from training.lineup import plan_lineup, train_lineup
from training.models import AE
from training.recipe import TrainedModel, recipe
from training.variants import SetProgress

log = logging.getLogger(__name__)

MIN_FRACTION_FOR_ESTIMATE = 0.02  # before that, the time left is mostly start-up noise


@dataclass(frozen=True)
class TaskState:
    """A snapshot of a task: status "training" | "finished" | "failed", its latest message,
    the fraction done in [0, 1] and the seconds left (None until it can be estimated)."""

    status: str
    message: str
    fraction: float
    seconds_left: float | None

    @property
    def done(self) -> bool:
        return self.status != "training"


class Task:
    """work(task) in a daemon thread; work reports with task.report and returns the result."""

    def __init__(
        self, work: Callable[[Task], Any], manager: JobManager, dataset: str, label: str | None
    ) -> None:
        self.work, self.manager, self.dataset, self.label = work, manager, dataset, label
        self.result: Any = None  # work's return value, once finished
        self._lock = threading.Lock()
        self._status, self._message, self._fraction = "training", "starting", 0.0
        # (time, fraction) of the first progress: the rate is measured from there, as start-up
        # (loading data, building and timing models) would make early estimates several-fold
        self._first: tuple[float, float] | None = None
        self._held: HeldTask | None = None
        self._thread = threading.Thread(target=self._run, name=f"task-{dataset}", daemon=True)
        self._thread.start()

    def report(self, message: str, fraction: float) -> None:
        """Progress from work: what it does now and the fraction of all of it done."""
        with self._lock:
            self._message, self._fraction = message, fraction
            if self._first is None and fraction > 0:
                self._first = (time.time(), fraction)
        if self._held is not None:  # the Train page's list shows it too
            self._held.update(message, round(1000 * fraction), 1000)

    def state(self, now: float | None = None) -> TaskState:
        with self._lock:
            status, message, fraction = self._status, self._message, self._fraction
            first = self._first
        left = None
        if status == "finished":
            left = 0.0
        elif status == "training" and first and fraction - first[1] > MIN_FRACTION_FOR_ESTIMATE:
            rate = ((now or time.time()) - first[0]) / (fraction - first[1])  # s per fraction
            left = rate * (1 - fraction)
        return TaskState(status, message, fraction, left)

    def join(self, timeout: float | None = None) -> TaskState:
        self._thread.join(timeout)
        return self.state()

    def _run(self) -> None:
        # Every failure ends as a "failed" state with a sentence for a page; the traceback
        # goes to the server log, never to an unhandled thread exception.
        try:
            if self.label is None:
                self.result = self.work(self)
            else:
                with self.manager.hold(self.label, self.dataset) as self._held:
                    self.result = self.work(self)
            self._end("finished", "finished", 1.0)
        except Exception as e:
            log.exception("the server's training of %s failed", self.label or self.dataset)
            self._end("failed", str(e) or type(e).__name__, 0.0)

    def _end(self, status: str, message: str, fraction: float) -> None:
        with self._lock:
            self._status, self._message, self._fraction = status, message, fraction


class Trainers:
    """The server's registry of Tasks by key, shared by every session; thread-safe."""

    def __init__(self, manager: JobManager) -> None:
        self.manager = manager
        self._tasks: dict[Hashable, Task] = {}
        self._lock = threading.Lock()

    def ensure(
        self,
        key: Hashable,
        dataset: str,
        work: Callable[[Task], Any],
        label: str | None = None,
        keep: bool = False,
    ) -> Task:
        """The task of key: the one that runs, else a new one of work (holding a slot, listed
        as label, when labelled). A finished task is kept when keep (its result lives in
        memory); else a caller asks only while the result is missing, e.g. removed from disk."""
        with self._lock:
            task = self._tasks.get(key)
            status = None if task is None else task.state().status
            if status != "training" and not (keep and status == "finished"):
                task = self._tasks[key] = Task(work, self.manager, dataset, label)
            return task

    def get(self, key: Hashable) -> Task | None:
        with self._lock:
            return self._tasks.get(key)


# ---- what the registry trains for the instruments ----


def ladder_key(dataset: str) -> tuple[str, str]:
    return ("beta ladder", dataset)


def ensure_ladder(trainers: Trainers, dataset: Dataset, folder: Path) -> Task:
    """Train dataset's default beta ladder into folder, unless that runs (ask while missing)."""
    work = lambda task: train_ladder_into(task, dataset, folder)  # noqa: E731
    return trainers.ensure(
        ladder_key(dataset.name), dataset.name, work, label=f"beta dial's VAEs for {dataset.name}"
    )


def train_ladder_into(task: Task, dataset: Dataset, folder: Path) -> None:
    """The ladder of DEFAULT_BETAS trained into a folder renamed into place when whole, so
    that a half ladder is never shown."""

    def train(partial: Path, on_progress) -> dict:
        # the preview's recipe: four full conv VAEs would hold a slot for most of an hour
        preview = recipe(dataset, stage="preview")
        return train_ladder(
            dataset, DEFAULT_BETAS, preview.train, partial, preview.model, on_progress=on_progress
        )

    describe = lambda beta: f"the VAE with beta = {beta:g}"  # noqa: E731
    train_set_into(task, folder, describe, train, "the beta ladder")


def lineup_key(dataset: str) -> tuple[str, str]:
    return ("architecture lineup", dataset)


def ensure_lineup(trainers: Trainers, dataset: Dataset, folder: Path) -> Task:
    """Train dataset's lineup of coders into folder, unless that runs (ask while missing)."""
    work = lambda task: train_lineup_into(task, dataset, folder)  # noqa: E731
    label = f"MLP, conv and GRU VAEs for {dataset.name}"
    return trainers.ensure(lineup_key(dataset.name), dataset.name, work, label=label)


def train_lineup_into(task: Task, dataset: Dataset, folder: Path) -> None:
    """One VAE per architecture of LINEUP_ARCHS that takes the images (training/lineup.py),
    trained into a folder renamed into place when whole."""
    archs = tuple(plan_lineup(dataset).recipes)  # those that take the images, in order

    def train(partial: Path, on_progress) -> dict:
        return train_lineup(dataset, partial, archs, on_progress=on_progress)

    describe = lambda arch: f"the {arch_name(arch)} VAE"  # noqa: E731
    train_set_into(task, folder, describe, train, "the architecture lineup")


def train_set_into(
    task: Task,
    folder: Path,
    describe: Callable[[Hashable], str],
    train: Callable[[Path, SetProgress], dict[Hashable, TrainedModel]],
    what: str,
) -> None:
    """A set of named models trained one after another by train(partial_folder, on_progress)
    into a folder renamed into place when whole, so that half a set is never shown; the task
    reports which one trains (describe(name)) and the share of the set's time done."""
    partial = folder.with_name(folder.name + PARTIAL_FOLDER_SUFFIX)

    def on_progress(name: Hashable, p: Progress, fraction: float) -> None:
        task.report(f"training {describe(name)}: epoch {p.epoch} of {p.n_epochs}", fraction)

    try:
        trained = train(partial, on_progress)
        missing = [describe(name) for name, e in trained.items() if e.path is None]
        if missing:
            raise RuntimeError(f"{', '.join(missing)} diverged at once")
        os.replace(partial, folder)  # whole, or not there at all
    except Exception as e:
        shutil.rmtree(partial, ignore_errors=True)
        raise RuntimeError(f"training {what} failed: {e}") from e


def denoiser_key(dataset: Dataset, model: ModelConfig, config: TrainConfig) -> tuple:
    return ("denoising AE", dataset.name, dataset.n_samples, model, config)


def ensure_denoiser(
    trainers: Trainers, dataset: Dataset, model: ModelConfig, config: TrainConfig, like: AE
) -> Task:
    """Train a denoising AE of model with config on dataset (like: the pair's AE) once per
    server; the finished task's result is the AE, shared read-only by every session."""
    key = denoiser_key(dataset, model, config)

    def work(task: Task) -> AE:
        def on_progress(p: Progress) -> None:
            task.report(
                f"training the denoising AE: epoch {p.epoch} of {p.n_epochs}",
                p.step / max(p.n_steps, 1),
            )

        return features.train_denoising_ae(dataset, model, config, like, on_progress)

    return trainers.ensure(
        key, dataset.name, work, label=f"denoising AE for {dataset.name}", keep=True
    )
