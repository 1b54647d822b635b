"""Who trains on this server: one server serves a whole class, so the JobManager caps how many
jobs train at once, knows whose each job is (an owner id the page derives per browser), lists
them all and lets only the owner cancel. Training the server does outside a job (HeldTask) holds
a slot too. Plain Python, no Streamlit: testable without an app.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType

from explorer.server.jobs import SERVER, JobSpec, JobState, TrainingJob

log = logging.getLogger(__name__)


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
                id=self.id,
                owner=self.owner,
                spec=self.spec,
                status=self._status,
                message=self._message,
                progress=MappingProxyType(dict(self._progress)),
                curves=MappingProxyType({}),
                checkpoints=MappingProxyType({}),
                arch=None,
                latent_dim=None,
                epochs=None,
                started=self._started,
                finished=self._finished,
                label=self.label,
            )


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
    return (
        f"You already have a job training ({job.title}): one job per browser at a time. "
        "Wait for it to finish or cancel it."
    )


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
