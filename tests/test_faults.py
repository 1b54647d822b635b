"""Faults lose nothing (issue 12): a process killed with SIGKILL during training or in the middle
of a checkpoint save leaves no half-written file under a real name, earlier runs and the default
pair intact, and an interrupted run that is listed and can be removed; a full disk leaves the
previous checkpoint byte for byte; a job that raises ends "failed" with its message while another
job finishes. The kills happen in a child Python process, on real files in a temporary runs
folder; the slow, whole-server version of these checks is benchmarks/faults.py."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import explorer.server.jobs as jobs
from explorer.server import runs
from explorer.server.jobs import JobSpec
from explorer.server.slots import JobManager
from training.atomic import WriteError, is_partial
from training.checkpoints import load_checkpoint, save_checkpoint
from training.config import ModelConfig
from training.models import build_model
from training.timelapse import FILENAME as TIMELAPSE_FILE
from training.timelapse import load_timelapse

REPO_ROOT = Path(__file__).resolve().parents[1]
EARLIER = "20250101-090000-0000000a"  # a finished run from an earlier lesson

# The child: trains a job into $LATENT_EXPLORER_RUNS/jobs/ and gets killed.
#   train:     says "training" once the first steps are done, then waits for the parent's kill
#   save:      writes half of the VAE's checkpoint file, then kills itself (SIGKILL)
#   overwrite: the same while re-saving the default pair's VAE over the existing file
CHILD = """
import contextlib, os, signal, sys, time
from pathlib import Path
import training.checkpoints as checkpoints
from explorer.server import runs
from explorer.server.jobs import JobSpec
from explorer.server.slots import JobManager

class HalfThenDie:
    def __init__(self, f):
        self.f = f
    def write(self, data):
        self.f.write(bytes(data[: len(data) // 2]))
        self.f.flush()
        os.fsync(self.f.fileno())
        os.kill(os.getpid(), signal.SIGKILL)

real_write = checkpoints.atomic_write

@contextlib.contextmanager
def dying_write(path):
    with real_write(path) as f:
        yield HalfThenDie(f) if Path(path).name == "vae.safetensors" else f

mode = sys.argv[1]
if mode in ("save", "overwrite"):
    checkpoints.atomic_write = dying_write
if mode == "overwrite":
    checkpoints.save_checkpoint(runs.default_folder("digits") / "vae.safetensors",
                                checkpoints.load_checkpoint(
                                    runs.default_folder("digits") / "vae.safetensors").model)
job = JobManager(runs.jobs_dir()).start(JobSpec(epochs=2 if mode == "save" else 500), "child")
print(job.id, flush=True)
while job.state().progress.get("ae", (0, 0))[0] == 0 and not job.state().done:
    time.sleep(0.01)
print("training", flush=True)
job.join(120)
print("finished", job.state().message, flush=True)  # never reached: killed before
"""


def small_model(kind: str, latent_dim: int = 2):
    return build_model(ModelConfig(kind=kind, image_shape=(1, 8, 8), latent_dim=latent_dim))


@pytest.fixture
def runs_root(tmp_path, monkeypatch) -> Path:
    """A runs folder holding the default digits pair and a finished run from before."""
    root = tmp_path / "runs"
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(root))
    for folder in (runs.default_folder("digits"), runs.jobs_dir() / EARLIER):
        for kind in runs.KINDS:
            save_checkpoint(
                folder / f"{kind}.safetensors", small_model(kind), dataset={"name": "digits"}
            )
    return root


def snapshot(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def run_child(root: Path, mode: str, kill_at: str | None = None) -> tuple[str, int]:
    """Run CHILD in mode; kill it with SIGKILL when it prints kill_at. (its job id, exit code)."""
    env = {**os.environ, "LATENT_EXPLORER_RUNS": str(root), "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        job_id = child.stdout.readline().strip() if mode != "overwrite" else ""
        if kill_at is not None:
            while (line := child.stdout.readline()) and line.strip() != kill_at:
                pass
            child.send_signal(signal.SIGKILL)
        code = child.wait(120)
    finally:
        child.kill()
        child.wait()
    assert code == -signal.SIGKILL, child.stderr.read()[-2000:]
    return job_id, code


def assert_every_visible_file_is_whole(root: Path) -> None:
    """Every file under a real name reads back whole; the rest are atomic writes' leftovers."""
    for path in root.rglob("*.safetensors"):
        if is_partial(path.name):
            continue
        if path.name == TIMELAPSE_FILE:
            load_timelapse(path)
        else:
            load_checkpoint(path)  # raises CheckpointError on a truncated file


def assert_before_is_intact(before: dict[Path, bytes]) -> None:
    for path, data in before.items():
        assert path.read_bytes() == data, f"{path} changed"


@pytest.mark.slow
def test_a_kill_during_training_leaves_an_interrupted_run_that_can_be_removed(runs_root):
    before = snapshot(runs_root)
    job_id, _ = run_child(runs_root, "train", kill_at="training")
    assert_every_visible_file_is_whole(runs_root)
    assert_before_is_intact(before)
    (left,) = runs.interrupted_runs(active=(), since=time.time())
    assert left.id == job_id and left.dataset is None  # killed before any model was saved
    assert left.title.startswith("unknown dataset · interrupted · started ")
    assert [r.id for r in runs.finished_runs()] == [EARLIER]  # not counted as finished
    assert runs.remove_run(job_id) and not (runs.jobs_dir() / job_id).exists()
    assert snapshot(runs_root) == before


@pytest.mark.slow
def test_a_kill_in_the_middle_of_a_save_leaves_no_half_file_under_a_real_name(runs_root):
    before = snapshot(runs_root)
    job_id, _ = run_child(runs_root, "save")
    folder = runs.jobs_dir() / job_id
    assert_every_visible_file_is_whole(runs_root)
    assert_before_is_intact(before)
    (half,) = [p for p in folder.iterdir() if is_partial(p.name)]
    assert half.name.startswith(".vae.safetensors.")
    assert not (folder / "vae.safetensors").exists() and (folder / "ae.safetensors").is_file()
    (left,) = runs.interrupted_runs(active=(), since=time.time())
    assert left.id == job_id and left.dataset == "digits"  # read from the AE saved before
    assert runs.clean_partial_files(before=time.time()) == [half]
    assert runs.remove_run(job_id)
    assert snapshot(runs_root) == before


@pytest.mark.slow
def test_a_kill_while_overwriting_a_checkpoint_keeps_the_previous_one(runs_root):
    before = snapshot(runs_root)
    run_child(runs_root, "overwrite")
    assert_before_is_intact(before)  # the default VAE, byte for byte
    assert_every_visible_file_is_whole(runs_root)
    (half,) = runs.clean_partial_files(before=time.time())
    assert half.parent == runs.default_folder("digits")
    assert snapshot(runs_root) == before
    assert runs.interrupted_runs(active=(), since=time.time()) == []


def test_a_full_disk_during_a_save_keeps_the_previous_checkpoint_byte_for_byte(
    runs_root, monkeypatch
):
    path = runs.default_folder("digits") / "vae.safetensors"
    previous = path.read_bytes()
    real_fdopen = os.fdopen

    class HalfThenFull:  # the disk fills up half way through the file
        def __init__(self, f):
            self.f = f

        def write(self, data):
            self.f.write(bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: HalfThenFull(real_fdopen(fd, mode)))
    with pytest.raises(WriteError) as caught:
        save_checkpoint(path, small_model("vae", latent_dim=3))
    assert str(caught.value) == (
        f"the disk is full: {path} was not saved (a file already there is unchanged)"
    )
    assert path.read_bytes() == previous
    assert not [p for p in runs_root.rglob("*") if is_partial(p.name)]


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB tmpfs mounted for the test (root only; skipped where mounting is not allowed)."""
    mount_point = tmp_path / "small_disk"
    mount_point.mkdir()
    command = ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)]
    if os.geteuid() != 0 or subprocess.run(command, capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root): the simulated ENOSPC tests cover it")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_a_really_full_disk_keeps_the_previous_checkpoint_byte_for_byte(small_disk):
    path = small_disk / "vae.safetensors"
    save_checkpoint(path, small_model("vae"))  # about 280 KB
    previous = path.read_bytes()
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    (small_disk / "filler").write_bytes(b"\0" * (free - 100_000))  # 100 KB left
    with pytest.raises(WriteError, match="^the disk is full: ") as caught:
        save_checkpoint(path, small_model("vae", latent_dim=3))
    assert caught.value.errno == errno.ENOSPC and str(path) in str(caught.value)
    assert path.read_bytes() == previous
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "vae.safetensors"]


def test_a_job_whose_save_finds_the_disk_full_fails_saying_so_and_keeps_nothing(
    tmp_path, monkeypatch
):
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)  # the data is written, the disk refuses to keep it
    manager = JobManager(tmp_path / "jobs")
    job = manager.start(JobSpec(epochs=1), "me")
    state = job.join(120)
    assert state.status == "failed"
    assert "the disk is full: " in state.message and "ae.safetensors was not saved" in state.message
    assert not (tmp_path / "jobs" / job.id).exists()  # no half run left behind


def test_a_job_that_raises_fails_with_its_message_while_another_finishes(tmp_path, monkeypatch):
    real_load = jobs.load_dataset

    def load(name, *args, **kwargs):
        if name == "broken":
            raise RuntimeError("the data server caught fire")
        return real_load(name, *args, **kwargs)

    monkeypatch.setattr(jobs, "load_dataset", load)
    manager = JobManager(tmp_path / "jobs")
    broken = manager.start(JobSpec(dataset="broken"), "a")
    fine = manager.start(JobSpec(epochs=2), "b")
    broken_state, fine_state = broken.join(120), fine.join(120)
    assert broken_state.status == "failed"
    assert "the data server caught fire" in broken_state.message
    assert fine_state.status == "finished", fine_state.message
    assert runs.has_pair(tmp_path / "jobs" / fine.id)
    assert not (tmp_path / "jobs" / broken.id).exists()
