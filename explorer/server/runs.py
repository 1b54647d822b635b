"""The runs folder on disk: where trained pairs live, what each is called, listing, publishing
and clean-up. No Streamlit: the app and the tests call these directly.

    $LATENT_EXPLORER_RUNS (default ./runs)/
      default/<dataset>/{ae,vae}.safetensors   each dataset's default pair, trained on first use
      default/<dataset>/ladder/vae-beta-<beta>.safetensors   its beta dial's VAEs (idem)
      jobs/<run id>/{ae,vae}.safetensors       runs trained from the Train page
      (beside each pair: timelapse.safetensors, its training time-lapse, training/timelapse.py)
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from training.checkpoints import CheckpointError, read_info
from training.timelapse import FILENAME as TIMELAPSE_FILE

KINDS = ("ae", "vae")
_publish_lock = threading.Lock()


def runs_dir() -> Path:
    """Where trained pairs are kept: $LATENT_EXPLORER_RUNS, else ./runs."""
    return Path(os.environ.get("LATENT_EXPLORER_RUNS") or Path.cwd() / "runs")


def default_folder(dataset: str) -> Path:
    return runs_dir() / "default" / dataset


def ladder_folder(dataset: str) -> Path:
    """The dataset's beta ladder (training/ladder.py), beside its default pair."""
    return default_folder(dataset) / "ladder"


def jobs_dir() -> Path:
    return runs_dir() / "jobs"


def has_pair(folder: Path) -> bool:
    return all((folder / f"{kind}.safetensors").is_file() for kind in KINDS)


@dataclass(frozen=True)
class RunInfo:
    """A finished run as the pickers name it: what it was trained on, with what, and when."""

    id: str
    dataset: str | None
    arch: str = "?"
    latent_dim: int = 0
    created: float = 0.0

    @property
    def title(self) -> str:
        when = time.strftime("%d %b %H:%M", time.localtime(self.created))
        return f"{self.dataset} · {self.arch} · {self.latent_dim}-D · {when}"


def run_info(folder: Path) -> RunInfo:
    """The run in folder, read from its VAE's header (cached per file version)."""
    path = folder / "vae.safetensors"
    return _read_run_info(str(path), path.stat().st_mtime)


@functools.lru_cache(maxsize=1000)
def _read_run_info(path: str, mtime: float) -> RunInfo:
    folder = Path(path).parent
    try:
        info = read_info(path)
        config = info["model_config"]
        return RunInfo(folder.name, info["dataset"].get("name"), config["arch"],
                       int(config["latent_dim"]), mtime)  # fmt: skip
    except (CheckpointError, OSError, KeyError, TypeError, ValueError, AttributeError):
        return RunInfo(folder.name, None, created=mtime)  # unreadable: listed for no dataset


def trained_runs(dataset: str) -> list[RunInfo]:
    """Finished training runs on this dataset, newest first."""
    folders = [p for p in jobs_dir().glob("*") if p.is_dir() and has_pair(p)]
    runs = [info for info in map(run_info, folders) if info.dataset == dataset]
    return sorted(runs, key=lambda r: r.created, reverse=True)


def publish_default(checkpoints: dict[str, str], dataset: str) -> None:
    """Move a finished default job's files (its time-lapse too) into runs/default/<dataset>/
    and remove the job's emptied folder. Every session waiting on the job calls this: the lock
    and the existence checks make the first one do it."""
    target = default_folder(dataset)
    with _publish_lock:
        target.mkdir(parents=True, exist_ok=True)
        moved = False
        for kind, path in checkpoints.items():
            if Path(path).is_file():
                os.replace(path, target / f"{kind}.safetensors")
                moved = True
        for folder in {Path(path).parent for path in checkpoints.values()}:
            if (folder / TIMELAPSE_FILE).is_file():
                os.replace(folder / TIMELAPSE_FILE, target / TIMELAPSE_FILE)
            elif moved:  # a time-lapse left from an older pair would not match this one
                (target / TIMELAPSE_FILE).unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # gone already, or not empty: leave it
                folder.rmdir()


def remove_unfinished(folder: Path) -> bool:
    """Delete a run folder that does not hold a whole pair (a cancelled or failed run); a
    finished pair is never touched. Returns whether anything was removed."""
    if not folder.is_dir() or has_pair(folder):
        return False
    shutil.rmtree(folder, ignore_errors=True)
    return True
