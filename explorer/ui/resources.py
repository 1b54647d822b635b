"""What the server caches once and shares with every session, read-only: datasets, model pairs,
the job manager. The data folder ($LATENT_EXPLORER_DATA) is passed to every dataset source, the
way `python -m training datasets --data-dir DIR` does, so the app lists what the CLI finds."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import streamlit as st
from threadpoolctl import threadpool_limits

from explorer.core.model_pair import ModelPair, PairCache, build_pair
from explorer.server import classroom, network, runs
from explorer.server.defaults import STAGES_WITH_PREVIEW, DefaultPairs
from explorer.server.jobs import SERVER, TrainingJob
from explorer.server.slots import JobManager
from explorer.server.trainers import Trainers
from training import pretrained
from training.checkpoints import load_checkpoint
from training.data import Dataset, available_datasets, load_dataset
from training.recipe import has_preview

DATA_ENV = "LATENT_EXPLORER_DATA"
DATASET_ENV = "LATENT_EXPLORER_DATASET"  # the dataset a new browser opens on
# The generated faces: their shipped pair shows the lectures' contrasts best (docs/benchmarks.md,
# Default models: prior samples' Frechet distance AE / VAE 5.3 on faces, 2.0 on digits).
OPENING_DATASET = "faces"
PAIR_CACHE = "pair_cache.npz"  # beside a pair's checkpoints: its map codes and PCA (build_pair)


def data_root() -> str | None:
    """The folder of real datasets ($LATENT_EXPLORER_DATA, e.g. ../shared/data), or None when
    unset or not a folder (the sidebar then says so)."""
    root = os.environ.get(DATA_ENV)
    return root if root and Path(root).expanduser().is_dir() else None


@st.cache_resource(show_spinner="Loading the dataset...")
def dataset(name: str) -> Dataset:
    return load_dataset(name, data_root())


@st.cache_data(ttl=300, show_spinner=False)
def dataset_choices() -> dict[str, tuple[str, str]]:
    """name -> (summary, where it was found), for the sources found on this server."""
    found = available_datasets(data_root())
    return {name: (summary, where) for name, summary, where in found if where}


def opening_dataset(choices: list[str]) -> str:
    """The dataset a new browser opens on: $LATENT_EXPLORER_DATASET where it is one of
    choices, else OPENING_DATASET, else the first."""
    for name in (os.environ.get(DATASET_ENV), OPENING_DATASET):
        if name in choices:
            return name
    return choices[0]


@st.cache_resource
def job_manager() -> JobManager:
    """The server's job manager. Created on the server's first page run, which is when what a
    crash left behind is tidied: temporary files of interrupted saves go (the interrupted runs
    themselves stay listed on the Train page until removed)."""
    runs.clean_partial_files()
    manager = JobManager(runs.jobs_dir())
    manager.on_done = lambda job: after_job(job, manager)
    return manager


def after_job(job: TrainingJob, manager: JobManager) -> list[str]:
    """After every job (in its thread, so no Streamlit here): a default pair moves into place
    first (so the cap cannot take it for an old run), then the runs folder is kept under its
    cap, sparing the class defaults and the runs still training. Returns what it removed."""
    finished = job.state()
    if finished.owner == SERVER and finished.status == "finished":
        runs.publish_default(dict(finished.checkpoints), finished.spec.dataset, finished.spec.stage)
    return runs.prune(runs.max_runs_bytes(), classroom.pinned(), manager.active_ids())


@st.cache_resource
def trainers() -> Trainers:
    """The server's registry of its own training (default pairs, ladders, denoisers), shared."""
    return Trainers(job_manager())


@st.cache_resource
def default_pairs() -> DefaultPairs:
    """The server's trainer of each dataset's default pair (preview, then full), shared."""
    return DefaultPairs(trainers(), data_root)


def default_stages(name: str) -> tuple[str, ...]:
    """("preview", "full") where a quicker preview pair exists for the dataset, else ("full",)."""
    return STAGES_WITH_PREVIEW if has_preview(dataset(name)) else ("full",)


def install_shipped(name: str) -> None:
    """Put the pair that ships for the dataset (if any) in runs/default/<name>: a copy of about
    2 MB, checked against its manifest (a changed file raises PretrainedError, naming it)."""
    if pretrained.shipped_folder(name) is not None:
        pretrained.install(name, runs.default_folder(name))


@st.cache_resource(show_spinner="Encoding the data with both models...", max_entries=16)
def pair_from_files(folder: Path, stamp: float) -> ModelPair:
    """The pair saved in folder/{ae,vae}.safetensors; stamp (runs.pair_folder) renews the cache."""
    files = [Path(folder) / f"{k}.safetensors" for k in ("ae", "vae")]
    ae, vae = (load_checkpoint(file) for file in files)
    data = dataset(ae.dataset["name"])
    stamps = [(f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    key = f"{data.name}|{data.source}|{data.n_samples}|{data.image_shape}|{stamps}"
    cache = PairCache(Path(folder) / PAIR_CACHE, key)
    return build_pair(data, ae.model, vae.model, Path(folder).name, cache=cache)


@st.cache_resource(show_spinner="Checking the uploaded checkpoints...", max_entries=8)
def pair_from_bytes(ae_bytes: bytes, vae_bytes: bytes, name: str) -> ModelPair:
    ae = load_checkpoint(ae_bytes, "uploaded AE")
    vae = load_checkpoint(vae_bytes, "uploaded VAE")
    return build_pair(dataset(name), ae.model, vae.model, "uploaded")


_modules_when_limited = 0  # len(sys.modules) at the last threadpool_limits call


def limit_threads() -> None:
    """One thread in every BLAS and OpenMP library loaded so far (threadpool_limits(1)), applied
    again only after new imports: libraries load with modules (SciPy's BLAS with the pages'
    scikit-learn), and each call walks every loaded shared library, 3 ms of every page run."""
    global _modules_when_limited
    if len(sys.modules) != _modules_when_limited:
        _modules_when_limited = len(sys.modules)
        threadpool_limits(1)


@st.cache_resource
def disable_nagle() -> None:
    """Once per server (see network.disable_nagle)."""
    network.disable_nagle()
