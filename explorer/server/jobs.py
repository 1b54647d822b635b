"""Background training jobs for the app: an AE and a VAE fitted side by side in a thread.

A training loop inside a Streamlit script run dies at the next widget interaction, so the app
starts a TrainingJob here instead: a daemon thread that never calls Streamlit, which a page polls
(st.fragment(run_every=...)) through immutable JobState snapshots and stops with cancel(). A run
that does not end with a whole pair leaves no folder behind. Who may start one, and how many
train at once, is the JobManager's (explorer/server/slots.py). No Streamlit import here: this
module is plain Python, testable without an app.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from explorer.server import runs
from training.atomic import WriteError
from training.config import MODEL_KINDS, ModelConfig, TrainConfig, check
from training.data import DataOptions, DatasetError, load_dataset
from training.fit import Progress
from training.presets import STAGES
from training.recipe import TrainedModel, recipe, train_side_by_side

log = logging.getLogger(__name__)

DONE = ("finished", "cancelled", "failed")
MAX_POINTS = 500  # per model curve: enough for a smooth plot, bounded memory on long runs
MAX_EPOCHS = 1000  # an app job should end in minutes; longer runs belong on the command line
SERVER = "server"  # the owner of the default-model jobs the app starts on a dataset's first use
# The data's shape is unknown until it loads: a spec's model choices are checked on a shape that
# every architecture takes (conv: 16 px for its four stride-2 layers).
ANY_IMAGE = (1, 64, 64)


@dataclass(frozen=True)
class JobSpec:
    """What to train. None means the preset for the data (arch, latent size, epochs, lr).

    Only the app's own limits are checked here (a dataset, at most MAX_EPOCHS, the kinds); the
    configs the choices go to check the rest, and their ValueError names the field."""

    dataset: str = "digits"
    data_dir: str | None = None
    arch: str | None = None
    latent_dim: int | None = None
    epochs: int | None = None
    lr: float | None = None
    beta: float | None = None  # None: 16 for a conv VAE, else 1 (training/presets.py)
    noise_std: float = 0.0  # denoising AE
    sparsity: float = 0.0  # sparse AE
    seed: int = 0
    kinds: tuple[str, ...] = MODEL_KINDS
    stage: str = "full"  # "preview": the quick pair shown while the full one trains

    def __post_init__(self) -> None:
        object.__setattr__(self, "kinds", tuple(self.kinds))  # a list from a widget stays hashable
        check(bool(self.dataset), "dataset", "must name a dataset")
        check(
            self.epochs is None or self.epochs <= MAX_EPOCHS,
            "epochs",
            f"must be in [1, {MAX_EPOCHS}] (longer runs: use the command line), got {self.epochs}",
        )
        check(self.stage in STAGES, "stage", f"must be one of {STAGES}, got {self.stage!r}")
        distinct = len(set(self.kinds)) == len(self.kinds) > 0
        check(
            distinct and set(self.kinds) <= set(MODEL_KINDS),
            "kinds",
            f"must be distinct values from {MODEL_KINDS}, got {self.kinds}",
        )
        TrainConfig(**self.train_choices())
        ModelConfig(image_shape=ANY_IMAGE, **self.model_choices())

    def model_choices(self) -> dict[str, Any]:
        """The ModelConfig fields chosen (those left None, the preset's, are left out)."""
        return _given(arch=self.arch, latent_dim=self.latent_dim)

    def train_choices(self) -> dict[str, Any]:
        """The TrainConfig fields chosen (those left None, the preset's, are left out)."""
        return _given(
            epochs=self.epochs,
            lr=self.lr,
            beta=self.beta,
            noise_std=self.noise_std,
            sparsity=self.sparsity,
            seed=self.seed,
        )


def _given(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True)
class JobState:
    """A snapshot of a job, safe to read from any thread: the job never changes it afterwards.

    progress:    kind -> (step, n_steps) of its fit
    curves:      kind -> points {"step", "recon", "kl" (VAE only), "l1" (sparse AE), "total"},
                 thinned to at most about MAX_POINTS; treat the point dicts as read-only
    checkpoints: kind -> path of the saved .safetensors file
    arch, latent_dim, epochs: what is trained, the presets resolved (the spec's values, or
                 None for a preset, until the data is loaded)
    started, finished: time.time() seconds (finished is None while the job runs)
    """

    id: str
    owner: str  # an opaque owner id, or SERVER
    spec: JobSpec
    status: str  # "loading data" | "training" | "finished" | "cancelled" | "failed"
    message: str
    progress: MappingProxyType
    curves: MappingProxyType
    checkpoints: MappingProxyType
    arch: str | None
    latent_dim: int | None
    epochs: int | None
    started: float
    finished: float | None
    label: str | None = None  # what a server task is (JobManager.hold), instead of the spec's

    @property
    def done(self) -> bool:
        return self.status in DONE

    @property
    def title(self) -> str:
        """What is trained, e.g. "digits · mlp · 2-D · 30 epochs" (as runs.RunInfo.title)."""
        if self.label:
            return self.label
        size = f"{self.latent_dim}-D" if self.latent_dim else "preset size"
        epochs = runs.count_epochs(self.epochs) if self.epochs else "preset epochs"
        return f"{self.spec.dataset} · {self.arch or 'preset architecture'} · {size} · {epochs}"

    def describe(self, viewer: str) -> str:
        """The title and whose job it is, as seen by the owner id viewer."""
        if self.owner == SERVER:
            return self.label or f"default models for {self.title}"
        return f"{self.title} ({'yours' if self.owner == viewer else 'another session'})"


class Curve:
    """Loss points of one model, evenly thinned: when full, every other point is dropped and
    from then on only every stride-th report is kept, so memory stays bounded on any run."""

    def __init__(self, max_points: int = MAX_POINTS) -> None:
        self.max_points, self.stride, self.n_seen = max_points, 1, 0
        self.kept: list[dict[str, Any]] = []
        self.latest: dict[str, Any] | None = None

    def add(self, point: dict[str, Any]) -> None:
        if self.n_seen % self.stride == 0:
            self.kept.append(point)
            if len(self.kept) > self.max_points:
                del self.kept[1::2]
                self.stride *= 2
        self.n_seen += 1
        self.latest = point

    def points(self) -> tuple[dict[str, Any], ...]:
        """The kept points plus the latest one, so a plot always reaches the current step."""
        if self.latest is None or (self.kept and self.kept[-1] is self.latest):
            return tuple(self.kept)
        return (*self.kept, self.latest)


class TrainingJob:
    """One side-by-side training run in a daemon thread; state() is safe from any thread."""

    def __init__(
        self,
        job_id: str,
        spec: JobSpec,
        out_dir: Path,
        owner: str,
        on_done: Callable[[TrainingJob], None] | None = None,
    ) -> None:
        self.id, self.spec, self.out_dir, self.owner = job_id, spec, Path(out_dir), owner
        self._on_done = on_done  # called in the job's thread once it is done
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._status, self._message = "loading data", f"loading {spec.dataset}"
        self._progress: dict[str, tuple[int, int]] = {}
        self._curves: dict[str, Curve] = {}
        self._checkpoints: dict[str, str] = {}
        self._resolved = (spec.arch, spec.latent_dim, spec.epochs)
        self._started, self._finished = time.time(), None
        self._thread = threading.Thread(target=self._run, name=f"training-{job_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        """Ask the job to stop; fit checks this before every batch, so it stops within one."""
        self._cancel.set()

    def join(self, timeout: float | None = None) -> JobState:
        """Wait for the thread to end (or timeout seconds) and return the state then."""
        self._thread.join(timeout)
        return self.state()

    def state(self) -> JobState:
        with self._lock:
            arch, latent_dim, epochs = self._resolved
            return JobState(
                id=self.id,
                owner=self.owner,
                spec=self.spec,
                status=self._status,
                message=self._message,
                progress=MappingProxyType(dict(self._progress)),
                curves=MappingProxyType({k: c.points() for k, c in self._curves.items()}),
                checkpoints=MappingProxyType(dict(self._checkpoints)),
                arch=arch,
                latent_dim=latent_dim,
                epochs=epochs,
                started=self._started,
                finished=self._finished,
            )

    def _set(self, status: str, message: str) -> None:
        with self._lock:
            self._status, self._message = status, message
            if status in DONE:
                self._finished = time.time()

    def _on_progress(self, kind: str, p: Progress) -> None:
        with self._lock:
            self._status = "training"
            self._progress[kind] = (p.step, p.n_steps)
            running = [k for k in self.spec.kinds if k in self._progress]
            training = [k.upper() for k in running if self._progress[k][0] < self._progress[k][1]]
            names = " and the ".join(training or [kind.upper()])  # the pair may train at once
            self._message = f"training the {names}: epoch {p.epoch} of {p.n_epochs}"
            self._curves.setdefault(kind, Curve()).add({"step": p.step, **p.terms})

    def _run(self) -> None:
        try:
            self._train_and_save()
        finally:
            if self._on_done is not None:
                self._on_done(self)

    def _train_and_save(self) -> None:
        # Everything that can go wrong ends as a "failed" state with a sentence for a person;
        # the traceback goes to the server log, never to an unhandled thread exception.
        try:
            dataset = load_dataset(self.spec.dataset, self.spec.data_dir, DataOptions())
            self.out_dir.mkdir(parents=True, exist_ok=True)  # fail before training, not after
            trained = self._train(dataset)
            complete = all(e.result.status == "finished" for e in trained)
            kept = complete or not runs.remove_unfinished(self.out_dir)  # half a pair: no run
            if not kept:
                with self._lock:
                    self._checkpoints = {}
            self._set(*outcome(trained, kept))
        except DatasetError as e:
            self._fail(str(e))
        except ValueError as e:
            self._fail(f"invalid training settings: {e}")
        except WriteError as e:  # says which file, and "the disk is full" where it is
            self._fail(f"{e}; nothing of this run was kept")
        except OSError as e:
            self._fail(f"could not read or write a file: {e}")
        except Exception as e:
            log.exception("training job %s failed", self.id)
            self._fail(f"training stopped by an unexpected error: {e!r}")

    def _fail(self, message: str) -> None:
        runs.remove_unfinished(self.out_dir)
        self._set("failed", message)

    def _train(self, dataset) -> list[TrainedModel]:
        spec = self.spec
        pair = recipe(dataset, stage=spec.stage, **spec.model_choices(), **spec.train_choices())
        with self._lock:
            self._resolved = (pair.model.arch, pair.model.latent_dim, pair.train.epochs)
        self._set("training", f"training the {spec.kinds[0].upper()}")
        trained = train_side_by_side(
            dataset,
            spec.kinds,
            pair.train,
            self.out_dir,
            pair.model,
            on_progress=self._on_progress,
            cancel=self._cancel,
        )
        with self._lock:
            self._checkpoints = {e.kind: str(e.path) for e in trained if e.path is not None}
        return trained


def outcome(trained: list[TrainedModel], kept: bool = True) -> tuple[str, str]:
    """(status, message) of a finished train_side_by_side call; kept: whether its folder stays
    (runs.remove_unfinished removes one without a whole pair)."""
    if any(e.result.status == "cancelled" for e in trained):
        return "cancelled", "Cancelled; nothing was kept." if not kept else "Cancelled."
    diverged = [e for e in trained if e.result.status == "diverged"]
    if diverged:  # fit's message names the step and says to lower the learning rate
        saved = {True: " Its last finished epoch was saved.", False: ""}
        message = " ".join(
            f"The {e.kind.upper()} diverged: {e.result.message}{saved[kept and e.path is not None]}"
            for e in diverged
        )
        return "failed", message if kept else f"{message} Nothing was kept."
    return "finished", "; ".join(f"{e.kind.upper()}: {e.result.message}" for e in trained)
