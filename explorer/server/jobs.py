"""Background training jobs for the app: an AE and a VAE fitted side by side in a thread.

A training loop inside a Streamlit script run dies at the next widget interaction, so the app
starts a TrainingJob here instead: a daemon thread that never calls Streamlit, which a page polls
(st.fragment(run_every=...)) through immutable JobState snapshots and stops with cancel(). One
server serves a whole class, so the JobManager caps how many jobs train at once, knows whose each
job is (an owner id the page derives per browser), lists them all and lets only the owner cancel.
A run that does not end with a whole pair leaves no folder behind. No Streamlit import here: this
module is plain Python, testable without an app.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from explorer.server import runs
from training.atomic import WriteError
from training.config import ARCHITECTURES, MODEL_KINDS
from training.data import DataOptions, DatasetError, load_dataset
from training.fit import Progress
from training.presets import STAGES
from training.recipe import TrainedModel, recipe, train_side_by_side

log = logging.getLogger(__name__)

DONE = ("finished", "cancelled", "failed")
MAX_POINTS = 500  # per model curve: enough for a smooth plot, bounded memory on long runs
MAX_EPOCHS = 1000  # an app job should end in minutes; longer runs belong on the command line
SERVER = "server"  # the owner of the default-model jobs the app starts on a dataset's first use


def _require(ok: bool, name: str, message: str) -> None:
    if not ok:
        raise ValueError(f"{name}: {message}")


@dataclass(frozen=True)
class JobSpec:
    """What to train. None means the preset for the data (arch, latent size, epochs, lr)."""

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
        _require(bool(self.dataset), "dataset", "must name a dataset")
        _require(self.arch in (None, *ARCHITECTURES), "arch", f"must be one of {ARCHITECTURES}")
        _require(
            self.latent_dim is None or 1 <= self.latent_dim <= 4096,
            "latent_dim",
            f"must be 1 to 4096: {self.latent_dim}",
        )
        _require(
            self.epochs is None or 1 <= self.epochs <= MAX_EPOCHS,
            "epochs",
            f"must be in [1, {MAX_EPOCHS}] (longer runs: use the command line), got {self.epochs}",
        )
        _require(self.lr is None or 0 < self.lr <= 10, "lr", f"must be in (0, 10], got {self.lr}")
        _require(self.stage in STAGES, "stage", f"must be one of {STAGES}, got {self.stage!r}")
        for name in ("beta", "noise_std", "sparsity", "seed"):  # upper bounds: TrainConfig's
            value = getattr(self, name)
            _require(value is None or value >= 0, name, f"must be >= 0, got {value}")
        _require(
            len(self.kinds) > 0
            and set(self.kinds) <= set(MODEL_KINDS)
            and len(set(self.kinds)) == len(self.kinds),
            "kinds",
            f"must be distinct values from {MODEL_KINDS}, got {self.kinds}",
        )


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

    def __init__(self, job_id: str, spec: JobSpec, out_dir: Path, owner: str,
                 on_done: Callable[[TrainingJob], None] | None = None) -> None:  # fmt: skip
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
        chosen = recipe(
            dataset, arch=spec.arch, latent_dim=spec.latent_dim, epochs=spec.epochs, lr=spec.lr,
            beta=spec.beta, noise_std=spec.noise_std, sparsity=spec.sparsity, seed=spec.seed,
            stage=spec.stage,
        )  # fmt: skip
        with self._lock:
            self._resolved = (chosen.model.arch, chosen.model.latent_dim, chosen.train.epochs)
        self._set("training", f"training the {spec.kinds[0].upper()}")
        trained = train_side_by_side(
            dataset, spec.kinds, chosen.train, self.out_dir, chosen.model,
            on_progress=self._on_progress, cancel=self._cancel,
        )  # fmt: skip
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


class HeldTask:
    """Training the server does outside a TrainingJob (a dataset's beta ladder, a denoising AE):
    while it runs it holds a slot, so the cap counts it and the Train page lists it. Nobody can
    cancel it: sessions wait on it, as on the default models (JobManager.hold)."""

    def __init__(self, task_id: str, label: str, dataset: str) -> None:
        self.id, self.owner, self.label, self.spec = task_id, SERVER, label, JobSpec(dataset)
        self._lock = threading.Lock()
        self._status, self._message, self._progress = "training", "starting", {}
        self._started, self._finished = time.time(), None

    def update(self, message: str, step: int, n_steps: int) -> None:
        with self._lock:
            self._message, self._progress = message, {"all": (step, n_steps)}

    def end(self, status: str, message: str) -> None:
        with self._lock:
            self._status, self._message, self._finished = status, message, time.time()

    def cancel(self) -> None:
        """Nothing: a held task stops only by finishing or failing."""

    def state(self) -> JobState:
        with self._lock:
            return JobState(
                id=self.id, owner=self.owner, spec=self.spec, status=self._status,
                message=self._message, progress=MappingProxyType(dict(self._progress)),
                curves=MappingProxyType({}), checkpoints=MappingProxyType({}), arch=None,
                latent_dim=None, epochs=None, started=self._started, finished=self._finished,
                label=self.label,
            )  # fmt: skip


class JobLimitError(Exception):
    """Too many jobs are training on this server, or this browser has one already; the message
    says so for a person."""


def limit_message(running: list[JobState], viewer: str, max_running: int) -> str:
    """Why viewer (who has no job running) cannot start one: how many run, and which."""
    n = len(running)
    jobs = "1 job is" if n == 1 else f"{n} jobs are"
    holding = ", ".join(s.describe(viewer) for s in running)
    limit = f"the limit is {max_running}"
    return f"{jobs} training on this server ({limit}): {holding}. Wait for one to finish."


def own_job_message(job: JobState) -> str:
    return (f"You already have a job training ({job.title}): one job per browser at a time. "
            "Wait for it to finish or cancel it.")  # fmt: skip


class JobManager:
    """The server's registry of training jobs, shared by all sessions; thread-safe.

    At most max_running jobs train at once (two CPU cores serve a whole class), and at most one
    per owner (a browser). Jobs of the owner SERVER (each dataset's default models, which every
    session waits on, and the tasks it holds slots for) are never refused but do hold a slot.
    The last `keep` finished jobs stay in memory so a page can still show their result. After
    each job, on_done (the app's: the runs folder's size cap) runs in the job's thread; the
    sentences it returns (what it removed) are kept in notices, newest last, for the pages.
    """

    def __init__(
        self,
        runs_dir: str | Path,
        max_running: int = 2,
        keep: int = 50,
        on_done: Callable[[TrainingJob], list[str]] | None = None,
    ) -> None:
        self.runs_dir, self.max_running, self.keep = Path(runs_dir), max_running, keep
        self.on_done = on_done
        self.notices: deque[tuple[float, str]] = deque(maxlen=10)  # (time.time(), sentence)
        self._jobs: dict[str, TrainingJob | HeldTask] = {}  # in start order
        self._lock = threading.Lock()

    def start(self, spec: JobSpec, owner: str) -> TrainingJob:
        """Start training spec for owner in <runs_dir>/<job id>/; raises JobLimitError at the
        cap, naming the jobs that hold the slots as owner sees them, or when owner has one."""
        with self._lock:
            self._check_room(owner)
            job_id = self._new_id()
            job = TrainingJob(job_id, spec, self.runs_dir / job_id, owner, self._job_done)
            self._add(job)
            job.start()
        return job

    @contextmanager
    def hold(self, label: str, dataset: str) -> Iterator[HeldTask]:
        """Hold a slot for the server's own training done inside the block (listed as label);
        it ends finished, or failed with the block's exception's message."""
        with self._lock:
            task = HeldTask(self._new_id(), label, dataset)
            self._add(task)
        try:
            yield task
        except BaseException as e:
            task.end("failed", str(e) or type(e).__name__)
            raise
        if not task.state().done:  # the block may have ended it as failed, with its message
            task.end("finished", "finished")

    def get(self, job_id: str) -> TrainingJob | HeldTask | None:
        with self._lock:
            return self._jobs.get(job_id)

    def running(self) -> list[TrainingJob | HeldTask]:
        """Jobs not done yet, oldest first."""
        with self._lock:
            return [job for job in self._jobs.values() if not job.state().done]

    def active_ids(self) -> set[str]:
        """Ids of the jobs running now: their folders are not leftovers."""
        return {job.id for job in self.running()}

    def states(self) -> list[JobState]:
        """A snapshot of every job kept (running and recently done), oldest first."""
        with self._lock:
            return [job.state() for job in self._jobs.values()]

    def cancel(self, job_id: str, owner: str, teacher: bool = False) -> bool:
        """Ask job job_id to stop, if it is owner's or (teacher) any student's; False (and
        nothing done) otherwise. The page shows Cancel only where allowed; this makes it a rule.
        The server's own jobs are cancelled by nobody: sessions wait on them."""
        job = self.get(job_id)
        if job is None or job.owner == SERVER or not (job.owner == owner or teacher):
            return False
        job.cancel()
        return True

    def _job_done(self, job: TrainingJob) -> None:
        if self.on_done is None:
            return
        try:
            self.notices.extend((time.time(), sentence) for sentence in self.on_done(job))
        except Exception:  # tidying failed (a full disk?): the job's outcome stands as it is
            log.exception("after job %s", job.id)

    def _check_room(self, owner: str) -> None:
        if owner == SERVER:
            return
        running = [s for s in (job.state() for job in self._jobs.values()) if not s.done]
        own = [s for s in running if s.owner == owner]
        if own:
            raise JobLimitError(own_job_message(own[0]))
        if len(running) >= self.max_running:
            raise JobLimitError(limit_message(running, owner, self.max_running))

    def _add(self, job: TrainingJob | HeldTask) -> None:
        self._jobs[job.id] = job
        self._forget_old()

    def _new_id(self) -> str:
        # Sortable by time, and unguessable enough that one student cannot cancel another's job
        # by counting; token_hex uses the OS's randomness, not the global random state.
        while True:
            job_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}"
            if job_id not in self._jobs:
                return job_id

    def _forget_old(self) -> None:
        done = [job_id for job_id, job in self._jobs.items() if job.state().done]
        for job_id in done[: max(0, len(self._jobs) - self.keep)]:
            del self._jobs[job_id]
