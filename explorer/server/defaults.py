"""Each dataset's default pair, trained by the server on first use and shared by every session.

Where the full pair takes longer than a class waits (conv coders on faces-sized images, MNIST's
40 epochs), a preview pair trains first (within a minute) and is shown, labelled, while the full
pair trains after it in the background; the full pair then replaces it. Both are jobs of the
JobManager owned by the server: they hold a slot, are listed on the Train page, and nobody can
cancel them; the server's registry (trainers.py) runs the chain. No Streamlit here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from explorer.server import runs
from explorer.server.jobs import SERVER, JobSpec, JobState, TrainingJob
from explorer.server.trainers import Task, Trainers

STAGES_WITH_PREVIEW = ("preview", "full")


@dataclass(frozen=True)
class Progress:
    """How far a default job is: fraction in [0, 1] (the slower model's), seconds_left
    (None until a step was made), and its message."""

    fraction: float
    seconds_left: float | None
    message: str


def progress_of(state: JobState, now: float | None = None) -> Progress:
    """The job's progress, with the time left extrapolated from the time taken so far."""
    fractions = [step / max(total, 1) for step, total in state.progress.values()]
    fraction = min(fractions) if fractions else 0.0
    elapsed = (now or time.time()) - state.started
    left = elapsed * (1 - fraction) / fraction if fraction > 0 else None
    return Progress(fraction, left, state.message)


def describe_time(seconds: float | None) -> str:
    """'about 6 min left', 'under a minute left', or 'estimating the time left'."""
    if seconds is None:
        return "estimating the time left"
    if seconds < 60:
        return "under a minute left"
    return f"about {round(seconds / 60)} min left"


class DefaultPairs:
    """Trains each dataset's default pair once per server (again after a failure), in the
    order stages gives, one stage after the other so that the preview has both cores: a task
    of the server's registry follows the stages, while each stage's job holds a slot."""

    def __init__(self, trainers: Trainers, data_dir: Callable[[], str | None]) -> None:
        self.trainers, self.manager, self.data_dir = trainers, trainers.manager, data_dir
        self._jobs: dict[tuple[str, str], TrainingJob] = {}
        self._lock = threading.Lock()

    def ensure(self, name: str, stages: tuple[str, ...]) -> None:
        """Start training what name's default pair lacks, unless that runs already. The first
        job starts now (a page can show it at once); the registry's task starts the next."""
        with self._lock:
            chain = self.chain(name)
            if chain is not None and not chain.state().done:
                return
            if runs.has_pair(runs.default_folder(name)):
                return
            missing = [s for s in stages if not runs.has_pair(runs.default_folder(name, s))]
            first = self._start(name, missing[0])
            work = lambda task: self._follow(name, first, missing[1:])  # noqa: E731
            self.trainers.ensure(chain_key(name), name, work)

    def chain(self, name: str) -> Task | None:
        """The registry's task that follows name's stages, if one was started."""
        return self.trainers.get(chain_key(name))

    def job(self, name: str, stage: str) -> TrainingJob | None:
        """The latest job of name's stage this server started, if any."""
        with self._lock:
            return self._jobs.get((name, stage))

    def _start(self, name: str, stage: str) -> TrainingJob:
        job = self.manager.start(
            JobSpec(dataset=name, data_dir=self.data_dir(), stage=stage), SERVER
        )
        self._jobs[(name, stage)] = job
        return job

    def _follow(self, name: str, job: TrainingJob, stages: list[str]) -> None:
        """Each stage after the last one finished (a failed one's state says why, for a page);
        running until the last job ends, so that ensure() starts nothing while one trains."""
        for stage in stages:
            if job.join().status != "finished":
                return
            with self._lock:
                job = self._start(name, stage)
        job.join()


def chain_key(name: str) -> tuple[str, str]:
    return ("default pair", name)
