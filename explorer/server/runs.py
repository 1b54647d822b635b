"""The runs folder on disk: where trained pairs live, what each is called, listing, publishing
and clean-up. No Streamlit: the app and the tests call these directly.

    $LATENT_EXPLORER_RUNS (default ./runs)/
      default/<dataset>/{ae,vae}.safetensors   each dataset's default (full) pair: shipped
                                               (faces) or trained on first use
      default/<dataset>/preview/...            its preview pair, shown while the full one trains
      default/<dataset>/ladder/vae-beta-<beta>.safetensors   its beta dial's VAEs (idem)
      default/<dataset>/lineup/vae-<arch>.safetensors        its MLP, conv and GRU VAEs (idem)
      jobs/<run id>/{ae,vae}.safetensors       runs trained from the Train page
      (beside each pair: timelapse.safetensors, its training time-lapse, training/timelapse.py;
       pair_cache.npz, its map codes and PCA, explorer/core/model_pair.py)

Faults: every file is written atomically (training/atomic.py), so a server killed mid-save
leaves a hidden ".<name>.<random>.tmp" file, never half a checkpoint under its real name;
clean_partial_files removes those at startup. A run folder without a whole pair that no job is
writing is an interrupted run (interrupted_runs), which remove_run deletes. The jobs folder is
kept under a size cap (max_runs_bytes, $LATENT_EXPLORER_RUNS_MAX_MB) by prune.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import re
import shutil
import threading
import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path

from training.atomic import is_partial
from training.checkpoints import CheckpointError, read_info
from training.timelapse import FILENAME as TIMELAPSE_FILE

log = logging.getLogger(__name__)

KINDS = ("ae", "vae")
DEFAULT_SOURCE = "default"  # the Models picker's default pair, against a run's id (pair_folder)
RUN_ID = re.compile(r"[0-9]{8}-[0-9]{6}-[0-9a-f]{8}")  # JobManager._new_id's shape, fullmatch
MAX_RUNS_ENV = "LATENT_EXPLORER_RUNS_MAX_MB"
DEFAULT_MAX_RUNS_MB = 2048  # about 6,000 digits runs (0.34 MB each with its time-lapse)
PARTIAL_FOLDER_SUFFIX = ".training"  # a beta ladder's or lineup's folder while it trains
STARTED = time.time()  # about when this server started: no job of it began before
_publish_lock = threading.Lock()


def runs_dir() -> Path:
    """Where trained pairs are kept: $LATENT_EXPLORER_RUNS, else ./runs."""
    return Path(os.environ.get("LATENT_EXPLORER_RUNS") or Path.cwd() / "runs")


def shown(path: Path) -> str:
    """path as a page shows it: relative to the runs folder ("runs/default/faces/ladder", or
    "$LATENT_EXPLORER_RUNS/..." where that is set), never where the server keeps its files."""
    root = "$LATENT_EXPLORER_RUNS" if os.environ.get("LATENT_EXPLORER_RUNS") else "runs"
    try:
        return f"{root}/{Path(path).relative_to(runs_dir()).as_posix()}"
    except ValueError:  # not under the runs folder: its name alone
        return Path(path).name


def default_folder(dataset: str, stage: str = "full") -> Path:
    """The dataset's default pair; stage "preview": the quick pair shown while it trains."""
    folder = runs_dir() / "default" / dataset
    return folder / "preview" if stage == "preview" else folder


def ladder_folder(dataset: str) -> Path:
    """The dataset's beta ladder (training/ladder.py), beside its default pair."""
    return default_folder(dataset) / "ladder"


def lineup_folder(dataset: str) -> Path:
    """The dataset's lineup of coders (training/lineup.py), beside its default pair."""
    return default_folder(dataset) / "lineup"


def jobs_dir() -> Path:
    return runs_dir() / "jobs"


def has_pair(folder: Path) -> bool:
    return all((folder / f"{kind}.safetensors").is_file() for kind in KINDS)


def pair_folder(dataset: str, source: str, stage: str = "full") -> tuple[Path, float] | None:
    """Where the pair that source names is, with its stamp (its VAE file's time, which renews
    a cache of it): a run's folder for a run id, the dataset's default pair (of stage) for
    DEFAULT_SOURCE. None where no whole pair is (a default not trained yet, a run removed)."""
    if source == DEFAULT_SOURCE:
        folder = default_folder(dataset, stage)
    elif source == Path(source).name and source not in ("", ".", ".."):  # a folder in jobs/
        folder = jobs_dir() / source  # a job's id, or a run put there by hand (trained_runs)
    else:
        return None
    if not has_pair(folder):
        return None
    return folder, (folder / "vae.safetensors").stat().st_mtime


@dataclass(frozen=True)
class RunInfo:
    """A finished run as the pickers name it: what it was trained on, with what, and when."""

    id: str
    dataset: str | None
    arch: str = "?"
    latent_dim: int = 0
    created: float = 0.0  # finished: when its VAE was saved; interrupted: when it started
    interrupted: bool = False
    epochs: int = 0  # 0: not known (a header without its training settings)
    beta: float | None = None
    noise_std: float = 0.0
    sparsity: float = 0.0
    seconds: bool = False  # its time to the second: another run listed with it shares the minute

    @property
    def title(self) -> str:
        """E.g. "digits · mlp · 2-D · 30 epochs · beta 1 · 07 Dec 12:50": the training form's
        settings, so that runs started one after the other read apart."""
        if self.interrupted:
            return f"{self.dataset or 'unknown dataset'} · interrupted · started {self.when}"
        return f"{self.dataset} · {self.settings}"

    @property
    def settings(self) -> str:
        """The title without the dataset ("mlp · 2-D · 30 epochs · beta 1 · 07 Dec 12:50"):
        where a picker of the dataset's runs sits beside the dataset's own."""
        settings = [
            count_epochs(self.epochs) if self.epochs else "",
            f"beta {self.beta:g}" if self.beta is not None else "",
            f"noise {self.noise_std:g}" if self.noise_std else "",  # a denoising AE
            f"L1 {self.sparsity:g}" if self.sparsity else "",  # a sparse AE
        ]
        return " · ".join([self.arch, f"{self.latent_dim}-D", *filter(None, settings), self.when])

    @property
    def when(self) -> str:
        """Its time, to the second where another run listed with it shares the minute."""
        clock = "%d %b %H:%M:%S" if self.seconds else "%d %b %H:%M"
        return time.strftime(clock, time.localtime(self.created))


def count_epochs(n: int) -> str:
    return "1 epoch" if n == 1 else f"{n} epochs"


def run_info(folder: Path) -> RunInfo:
    """The run in folder, read from its VAE's header (cached per file version)."""
    path = folder / "vae.safetensors"
    return _read_run_info(str(path), path.stat().st_mtime)


@functools.lru_cache(maxsize=1000)
def _read_run_info(path: str, mtime: float) -> RunInfo:
    folder = Path(path).parent
    try:
        info = read_info(path)
        config, train = info["model_config"], info.get("train_config") or {}
        beta = float(train["beta"]) if "beta" in train else None
        return RunInfo(
            folder.name,
            info["dataset"].get("name"),
            config["arch"],
            int(config["latent_dim"]),
            mtime,
            epochs=int(train.get("epochs", 0)),
            beta=beta,
            noise_std=float(train.get("noise_std", 0.0)),
            sparsity=float(train.get("sparsity", 0.0)),
        )
    except (CheckpointError, OSError, KeyError, TypeError, ValueError, AttributeError):
        return RunInfo(folder.name, None, created=mtime)  # unreadable: listed for no dataset


def told_apart(infos: list[RunInfo]) -> list[RunInfo]:
    """infos, with the seconds in the titles of those that would read alike (the same
    settings, finished in the same minute)."""
    counts = Counter(info.title for info in infos)
    return [replace(info, seconds=True) if counts[info.title] > 1 else info for info in infos]


def trained_runs(dataset: str) -> list[RunInfo]:
    """Finished training runs on this dataset, newest first."""
    folders = [p for p in jobs_dir().glob("*") if p.is_dir() and has_pair(p)]
    runs = [info for info in map(run_info, folders) if info.dataset == dataset]
    return told_apart(sorted(runs, key=lambda r: r.created, reverse=True))


def publish_default(checkpoints: dict[str, str], dataset: str, stage: str = "full") -> None:
    """Move a finished default job's files (its time-lapse too) into runs/default/<dataset>/
    (a preview: into its preview/ folder) and remove the job's emptied folder. Every session
    waiting on the job calls this: the lock and the existence checks make the first one do it."""
    target = default_folder(dataset, stage)
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


# ---- faults and limits: interrupted runs, removal, the size cap, leftovers of atomic writes ----


def is_run_id(run_id: object) -> bool:
    """Whether run_id has the shape of a job's id ("20251130-143102-1a2b3c4d"): no separators,
    no "..", no NUL, ASCII digits only, so it names a folder inside runs/jobs/ and nothing else."""
    return isinstance(run_id, str) and RUN_ID.fullmatch(run_id) is not None


def run_started(run_id: str) -> float:
    """When the job run_id started, from its id (local time, to the second); 0.0 for an id of
    the right shape but no real date ("20251399-...": none of JobManager's)."""
    try:
        return time.mktime(time.strptime(run_id[:15], "%Y%m%d-%H%M%S"))
    except (ValueError, OverflowError):
        return 0.0


def _run_folders() -> list[Path]:
    """Folders in runs/jobs/ named like a job: only these are ever listed as interrupted,
    removed or pruned (a folder someone put there by hand is left alone)."""
    with contextlib.suppress(OSError):
        return [
            p
            for p in jobs_dir().iterdir()
            if is_run_id(p.name) and p.is_dir() and not p.is_symlink()
        ]
    return []


def interrupted_runs(active: Collection[str], since: float | None = None) -> list[RunInfo]:
    """Run folders without a whole pair that no job of this server is writing, newest first:
    what a kill -9 during training or during a save left. active: ids of the jobs running now.
    since (default: this server's start): only runs that began, or last changed, before then,
    so that a job starting as this is called is never taken for a leftover."""
    cutoff = STARTED if since is None else since
    found = []
    for folder in _run_folders():
        if folder.name in active or has_pair(folder):
            continue
        with contextlib.suppress(OSError):  # removed meanwhile
            if run_started(folder.name) < math.floor(cutoff) or folder.stat().st_mtime < cutoff:
                found.append(_interrupted_info(folder))
    return sorted(found, key=lambda r: r.created, reverse=True)


def _interrupted_info(folder: Path) -> RunInfo:
    """An interrupted run, its dataset read from whichever model it saved (None if neither)."""
    dataset = None
    for kind in KINDS:
        path = folder / f"{kind}.safetensors"
        if path.is_file():
            dataset = _read_run_info(str(path), path.stat().st_mtime).dataset
            break
    return RunInfo(folder.name, dataset, created=run_started(folder.name), interrupted=True)


def finished_runs() -> list[RunInfo]:
    """Every finished run in runs/jobs/ (any dataset) named like a job, oldest first."""
    folders = [p for p in _run_folders() if has_pair(p)]
    return told_apart(sorted(map(run_info, folders), key=lambda r: r.created))


def remove_run(run_id: str, active: Collection[str] = ()) -> bool:
    """Delete the run folder runs/jobs/<run_id> (finished or interrupted) and all in it. A bad
    id, a folder that is not there, a link, or a run in active removes nothing: False. Never
    touches runs/default/."""
    if not is_run_id(run_id) or run_id in active:
        return False
    folder = jobs_dir() / run_id
    if folder.is_symlink() or not folder.is_dir():
        return False
    shutil.rmtree(folder, ignore_errors=True)
    return not folder.exists()


def folder_bytes(path: str | Path) -> int:
    """Total size in bytes of the files under path (links not followed; 0 if it is missing)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):  # removed while we looked
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def max_runs_bytes() -> int:
    """The size cap of runs/jobs/: $LATENT_EXPLORER_RUNS_MAX_MB megabytes (a positive whole
    number), else DEFAULT_MAX_RUNS_MB. Class defaults in runs/default/ do not count."""
    value = os.environ.get(MAX_RUNS_ENV, "").strip()
    if value.isascii() and value.isdigit() and int(value) > 0:
        return int(value) << 20
    if value:
        log.warning(
            "%s=%r is not a positive number of MB: using %d",
            MAX_RUNS_ENV,
            value,
            DEFAULT_MAX_RUNS_MB,
        )
    return DEFAULT_MAX_RUNS_MB << 20


def prune(max_bytes: int, keep: Collection[str], active: Collection[str]) -> list[str]:
    """Bring runs/jobs/ under max_bytes: remove interrupted runs first, then the oldest finished
    runs, never one in keep (pinned: the published class defaults) or in active (training, or
    waiting to be published). Returns a sentence per removal for a person, and one more if the
    folder is still over the cap."""
    total, cap = folder_bytes(jobs_dir()), format_bytes(max_bytes)
    if total <= max_bytes:
        return []
    leftovers = [(r, "the interrupted run") for r in reversed(interrupted_runs(active))]
    oldest = [(r, "the oldest run") for r in finished_runs() if r.id not in keep]
    messages = []
    for info, what in leftovers + oldest:
        if total <= max_bytes:
            break
        size = folder_bytes(jobs_dir() / info.id)
        if remove_run(info.id, active):
            total -= size
            messages.append(f"Removed {what} {info.title} to keep the runs folder under {cap}.")
    if total > max_bytes:
        messages.append(
            f"The runs folder still holds {format_bytes(total)}, over its {cap} cap: "
            "the rest are training or published as class defaults."
        )
    return messages


def format_bytes(n: int) -> str:
    """A size for a person: "2.0 GB", "350.2 MB", "12.0 KB" (binary units)."""
    for unit, shift in (("GB", 30), ("MB", 20), ("KB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{n} bytes"


def clean_partial_files(before: float | None = None) -> list[Path]:
    """Remove what a killed process left half-made anywhere under the runs folder: atomic
    writes' temporary files (training/atomic.py) and a beta ladder's or lineup's folder in
    training ("ladder.training": explorer/server/trainers.py renames it into place only when
    whole). Only what was last changed before `before` (default: this server's start) goes,
    so that nothing this server is writing now is cut. Returns what was removed."""
    cutoff = STARTED if before is None else before
    removed = []
    for root, folders, files in os.walk(runs_dir()):
        for name in [*filter(is_partial, files), *filter(is_partial_folder, folders)]:
            path = Path(root, name)
            with contextlib.suppress(OSError):  # gone already, or not ours to remove
                if path.lstat().st_mtime < cutoff:
                    if path.is_dir():
                        shutil.rmtree(path)
                    else:
                        path.unlink()
                    removed.append(path)
        folders[:] = [name for name in folders if Path(root, name).exists()]
    return removed


def is_partial_folder(name: str) -> bool:
    """Whether a folder name is a ladder or lineup still being trained (or left by a killed
    server)."""
    return name.endswith(PARTIAL_FOLDER_SUFFIX)
