"""The app's one glue module to Streamlit: cached datasets, models and jobs, the sidebar's
pickers, and the view state that the URL carries. Pages call these and stay thin."""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from explorer.concepts import Concept
from explorer.jobs import JobManager, JobSpec, TrainingJob
from explorer.pair import ModelPair, build_pair
from training.checkpoints import CheckpointError, load_checkpoint, read_info
from training.data import (
    DEFAULT_DATASET,
    Dataset,
    DatasetError,
    available_datasets,
    load_dataset,
    prepare_image,
)

MAX_UPLOAD_MB = 20  # also server.maxUploadSize in .streamlit/config.toml
DEFAULT_SOURCE = "default"
UPLOAD_SOURCE = "upload"


@dataclass(frozen=True)
class Selection:
    """What the user is looking at; the URL carries it (?dataset=...&models=...)."""

    dataset: str
    models: str  # "default", "upload" or a training run's id


# ---- cached resources (shared by every session, read-only) ----


def runs_dir() -> Path:
    """Where trained pairs are kept: $LATENT_EXPLORER_RUNS, else ./runs."""
    return Path(os.environ.get("LATENT_EXPLORER_RUNS") or Path.cwd() / "runs")


def data_dir_for(name: str) -> str | None:
    """$LATENT_EXPLORER_DATA holds real datasets (e.g. ../shared/data): mnist/ and
    celeba_subset/ are found under it; other sources need no folder."""
    root = os.environ.get("LATENT_EXPLORER_DATA")
    if not root or name not in ("mnist", "fashion-mnist", "celeba"):
        return None
    sub = Path(root) / "celeba_subset"
    return str(sub if name == "celeba" and sub.is_dir() else root)


@st.cache_resource(show_spinner="Loading the dataset...")
def dataset(name: str) -> Dataset:
    return load_dataset(name, data_dir_for(name))


@st.cache_data(ttl=300, show_spinner=False)
def dataset_choices() -> dict[str, str]:
    """name -> where it was found, for the sources found on this server."""
    return {name: where for name, _, where in available_datasets() if where}


@st.cache_resource
def job_manager() -> JobManager:
    return JobManager(runs_dir() / "jobs")


@st.cache_resource
def default_jobs() -> tuple[dict[str, TrainingJob], threading.Lock]:
    """The job training each dataset's default models, so that sessions share one."""
    return {}, threading.Lock()


@st.cache_resource(show_spinner="Encoding the data with both models...", max_entries=16)
def pair_from_files(folder: str, stamp: float) -> ModelPair:
    """The pair saved in folder/{ae,vae}.safetensors; stamp (the files' mtime) renews the cache."""
    ae, vae = (load_checkpoint(Path(folder) / f"{k}.safetensors") for k in ("ae", "vae"))
    return build_pair(dataset(ae.dataset["name"]), ae.model, vae.model, Path(folder).name)


@st.cache_resource(show_spinner="Checking the uploaded checkpoints...", max_entries=8)
def pair_from_bytes(ae_bytes: bytes, vae_bytes: bytes, name: str) -> ModelPair:
    ae = load_checkpoint(ae_bytes, "uploaded AE")
    vae = load_checkpoint(vae_bytes, "uploaded VAE")
    return build_pair(dataset(name), ae.model, vae.model, "uploaded")


@st.cache_resource
def disable_nagle() -> None:
    """Set TCP_NODELAY on the server's listening sockets (Linux: accepted ones inherit it).

    Streamlit 1.67 binds its listener with protocol number 0, so asyncio never sets TCP_NODELAY
    and each burst of small websocket messages waits for the browser's delayed ACK: measured
    46 ms per click instead of 15 ms (benchmarks/app_load.py, one session).
    """
    fds = Path("/proc/self/fd")
    for fd in fds.iterdir() if fds.is_dir() else ():
        try:
            copy = os.dup(int(fd.name))
        except (OSError, ValueError):
            continue  # closed meanwhile (e.g. the listing's own descriptor)
        try:
            sock = socket.socket(fileno=copy)
        except OSError:
            os.close(copy)  # not a socket
            continue
        with sock:
            if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


# ---- where model pairs live ----


def default_folder(name: str) -> Path:
    return runs_dir() / "default" / name


def has_pair(folder: Path) -> bool:
    return all((folder / f"{k}.safetensors").is_file() for k in ("ae", "vae"))


def trained_runs(name: str) -> list[str]:
    """Ids of finished training runs on this dataset, newest first."""
    runs = [p for p in (runs_dir() / "jobs").glob("*") if has_pair(p) and run_dataset(p) == name]
    return [p.name for p in sorted(runs, key=lambda p: p.stat().st_mtime, reverse=True)]


def run_dataset(folder: Path) -> str | None:
    path = folder / "ae.safetensors"
    return checkpoint_dataset(str(path), path.stat().st_mtime)


@st.cache_data(show_spinner=False, max_entries=1000)
def checkpoint_dataset(path: str, mtime: float) -> str | None:
    """The dataset a checkpoint was trained on, from its header (cached per file version)."""
    try:
        return read_info(path)["dataset"].get("name")
    except (CheckpointError, OSError, KeyError, AttributeError):
        return None


def default_job(name: str) -> TrainingJob:
    """Start (once per server) or return the job that trains the default pair for a dataset."""
    jobs, lock = default_jobs()
    with lock:
        job = jobs.get(name)
        if job is None or job.state().status in ("failed", "cancelled"):
            job = jobs[name] = job_manager().start(
                JobSpec(dataset=name, data_dir=data_dir_for(name))
            )
        return job


def publish_default(job: TrainingJob, name: str) -> None:
    """Move a finished default job's files into runs/default/<name>/. Every session waiting
    on the job calls this: the lock and the existence check make the first one do it."""
    target = default_folder(name)
    with default_jobs()[1]:
        target.mkdir(parents=True, exist_ok=True)
        for kind, path in job.state().checkpoints.items():
            if Path(path).is_file():
                os.replace(path, target / f"{kind}.safetensors")


# ---- the sidebar and the URL ----


def selection() -> Selection:
    """Dataset and model pickers in the sidebar. They start from the URL, else from this
    session's last choice (page links drop the URL's parameters), and write both back."""
    choices = dataset_choices()
    name = picker("Dataset", "dataset", list(choices), DEFAULT_DATASET,
                  lambda n: f"{n}  ({choices[n]})")  # fmt: skip
    labels = {DEFAULT_SOURCE: "default (trained on first use)", UPLOAD_SOURCE: "upload files"}
    source = picker("Models", "models", [DEFAULT_SOURCE, *trained_runs(name), UPLOAD_SOURCE],
                    DEFAULT_SOURCE, lambda s: labels.get(s, f"run {s}"))  # fmt: skip
    return Selection(name, source)


def picker(label: str, param: str, options: list[str], default: str, describe) -> str:
    remembered = f"last_{param}"
    wanted = st.query_params.get(param) or st.session_state.get(remembered, default)
    index = options.index(wanted) if wanted in options else 0
    value = st.sidebar.selectbox(label, options, index=index, format_func=describe, key=param)
    st.query_params[param] = st.session_state[remembered] = value
    return value


def model_pair(sel: Selection) -> ModelPair | None:
    """The selected pair, or None after showing why there is none yet (training, upload
    missing, bad files): the page then stops. Errors are messages, never tracebacks."""
    try:
        if sel.models == UPLOAD_SOURCE:
            return uploaded_pair(sel.dataset)
        folder = default_folder(sel.dataset) if sel.models == DEFAULT_SOURCE else (
            runs_dir() / "jobs" / sel.models)  # fmt: skip
        if not has_pair(folder):
            return wait_for_default(sel.dataset)
        return pair_from_files(str(folder), (folder / "vae.safetensors").stat().st_mtime)
    except (DatasetError, CheckpointError, ValueError, OSError) as e:
        st.error(str(e))
        return None


def uploaded_pair(name: str) -> ModelPair | None:
    st.sidebar.caption(f"Checkpoints from `python -m training fit`, at most {MAX_UPLOAD_MB} MB.")
    files = [
        st.sidebar.file_uploader(f"{k.upper()} checkpoint", type=["safetensors"], key=f"up_{k}")
        for k in ("ae", "vae")
    ]
    if not all(files):
        st.info("Upload an AE and a VAE checkpoint (.safetensors) in the sidebar.")
        return None
    if too_large(*files):
        return None
    return pair_from_bytes(files[0].getvalue(), files[1].getvalue(), name)


def too_large(*files) -> bool:
    """Whether an upload is over the limit, after saying so."""
    if any(f.size > MAX_UPLOAD_MB * 2**20 for f in files):
        st.error(f"An upload is larger than {MAX_UPLOAD_MB} MB: refused.")
        return True
    return False


def wait_for_default(name: str) -> None:
    """Train the default pair in the background on first use; poll until it is saved."""
    job = default_job(name)

    @st.fragment(run_every=1.0)
    def progress() -> None:
        state = job.state()
        if state.status == "finished":
            publish_default(job, name)
            st.rerun()
        if state.status in ("failed", "cancelled"):
            st.error(f"Training the default models failed: {state.message}")
            return
        st.info(f"First use of **{name}**: training the default AE and VAE (saved for next time).")
        for kind, (step, total) in state.progress.items():
            st.progress(step / max(total, 1), text=f"{kind.upper()}: step {step} of {total}")

    progress()


# ---- the selected latent point, shared by clicks, sliders and the URL ----


@dataclass(frozen=True)
class Point:
    """z: (K,) the code both models decode; index: the plotted point number when the user
    picked a data point (then its image and reconstructions are shown), else None."""

    z: tuple[float, ...]
    index: int | None = None


def slider_key(i: int) -> str:
    return f"z_slider_{i}"


def current_point(pair: ModelPair) -> Point:
    """The selected point: from this session, else from the URL (?point=i12 or ?point=0.5,-1),
    else the first plotted data point."""
    point = st.session_state.get("point")
    fits = point is not None and len(point.z) == pair.latent_dim and (
        point.index is None or point.index < len(pair.indices))  # fmt: skip
    if not fits:  # first visit, or another dataset or latent size was picked
        point = point_from_url(pair, st.query_params.get("point", "")) or point_at(pair, 0)
        set_point(point)
    return point


def follow_click(pair: ModelPair, click: dict | None) -> None:
    """Select what a new click hit: a data point, or the exact spot on that map (through the
    map's inverse projection). A click already followed is ignored."""
    if not click or click["seq"] == st.session_state.get("last_click_seq"):
        return
    st.session_state["last_click_seq"] = click["seq"]
    kind = click["chart"].removeprefix("map_")
    if click["point_index"] is not None:
        set_point(point_at(pair, click["point_index"], kind))
    else:
        set_point(Point(tuple(pair.projections[kind].to_latent([[click["x"], click["y"]]])[0])))


def follow_sliders(pair: ModelPair) -> None:
    """on_change of the sliders: their values become the selected point."""
    set_point(Point(tuple(st.session_state[slider_key(i)] for i in range(pair.latent_dim))))


def slider_ranges(pair: ModelPair, point: Point) -> list[tuple[float, float]]:
    """Per coordinate: both models' codes plus a quarter on each side, stretched to hold z."""
    codes = np.concatenate(list(pair.codes.values()))
    low, high = codes.min(0), codes.max(0)
    pad = 0.25 * (high - low)
    return [
        (float(min(lo, v)), float(max(hi, v)))
        for lo, hi, v in zip(low - pad, high + pad, point.z, strict=True)
    ]


def markers(pair: ModelPair, point: Point) -> dict[str, tuple[float, float]]:
    """Where the point sits on each map: a data point at its own code in each model, an empty
    spot at the same z (both decoders get the same numbers)."""
    out = {}
    for kind, projection in pair.projections.items():
        z = pair.codes[kind][point.index] if point.index is not None else np.array(point.z)
        out[f"map_{kind}"] = tuple(float(v) for v in projection.to_plane(z[None])[0])
    return out


def point_at(pair: ModelPair, index: int, kind: str = "vae") -> Point:
    return Point(tuple(pair.codes[kind][index]), index)


def point_from_url(pair: ModelPair, text: str) -> Point | None:
    try:
        if text.startswith("i"):
            index = int(text[1:])
            return point_at(pair, index) if 0 <= index < len(pair.indices) else None
        z = tuple(float(v) for v in text.split(","))
        return Point(z) if len(z) == pair.latent_dim else None
    except ValueError:
        return None


def set_point(point: Point) -> None:
    """Select a point: sliders follow it and the URL carries it."""
    st.session_state["point"] = point
    if point.index is not None:  # the last two picked data points seed the interpolation
        st.session_state["picks"] = [*st.session_state.get("picks", [])[-1:], point.index]
    for i, value in enumerate(point.z):
        st.session_state[slider_key(i)] = float(value)
    st.query_params["point"] = (
        f"i{point.index}" if point.index is not None else ",".join(f"{v:.4g}" for v in point.z)
    )


def picked_pair(count: int) -> tuple[int, int]:
    """The last two data points the user clicked (point numbers), else 0 and 1."""
    picks = [i for i in st.session_state.get("picks", []) if i < count]
    a, b = ([0, min(1, count - 1)] + picks)[-2:]
    return a, b


# ---- concepts saved in this session ----


def pair_id(pair: ModelPair) -> str:
    return f"{pair.dataset.name}/{pair.label}"


def saved_concepts(pair: ModelPair) -> dict[str, Concept]:
    """This session's concepts, name -> Concept. They belong to one pair of models: another
    pair's latent spaces are different spaces, so picking one starts an empty collection."""
    if st.session_state.get("concepts_for") != (pair_id(pair), pair.latent_dim):
        st.session_state["concepts_for"] = (pair_id(pair), pair.latent_dim)
        st.session_state["concepts"] = {}
        st.session_state["report_cards"] = {}
    return st.session_state["concepts"]


def save_concept(pair: ModelPair, concept: Concept) -> None:
    """Save (or replace, by name) a concept and make it the selected one. Report cards are
    dropped: they compare each vector with the other saved ones."""
    saved_concepts(pair)[concept.name] = concept
    st.session_state["concept"] = concept.name
    st.session_state["report_cards"] = {}


def uploaded_image(pair: ModelPair, key: str) -> np.ndarray | None:
    """An uploaded PNG/JPEG prepared like the dataset's images (C, H, W), or None after saying
    why not (nothing uploaded, too large, unreadable)."""
    file = st.file_uploader("Your image (PNG or JPEG)", type=["png", "jpg", "jpeg"], key=key)
    if file is None:
        return None
    if too_large(file):
        return None
    try:
        return prepare_image(file.getvalue(), pair.dataset, file.name)
    except DatasetError as e:
        st.error(str(e))
        return None
