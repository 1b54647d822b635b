"""The sidebar's dataset and model pickers, kept in step with the URL, and the selected model
pair (or why there is none yet: training on first use, an upload missing, a bad file)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import streamlit as st

from explorer.core import display
from explorer.core.model_pair import ModelPair
from explorer.server import classroom, runs
from explorer.ui import resources, state, teacher, uploads
from training.checkpoints import CheckpointError
from training.data import DEFAULT_DATASET, DatasetError

DEFAULT_SOURCE = "default"
UPLOAD_SOURCE = "upload"


@dataclass(frozen=True)
class Selection:
    """What the user is looking at; the URL carries it (?dataset=...&models=...)."""

    dataset: str
    models: str  # "default", "upload" or a training run's id


def selection() -> Selection:
    """Dataset and model pickers in the sidebar. They start from the URL, else from this
    session's last choice (page links drop the URL's parameters), and write both back."""
    choices = resources.dataset_choices()
    asked = os.environ.get(resources.DATA_ENV)
    if asked and resources.data_root() is None:
        asked, here = display.markdown_text(asked), display.markdown_text(os.getcwd())
        st.sidebar.warning(f"{resources.DATA_ENV}={asked} is not a folder (seen from "
                           f"{here}): only the built-in datasets are listed.")  # fmt: skip
    name = picker("Dataset", "dataset", list(choices), DEFAULT_DATASET, str)
    summary, where = choices[name]
    summary = display.markdown_text(summary[:1].upper() + summary[1:], 300)  # may name a folder
    st.sidebar.caption(f"{summary}.", help=f"Found: {display.markdown_text(where)}")
    titles = {run.id: run.title for run in runs.trained_runs(name)}
    published = classroom.published_run(name)
    default = f"class default: {titles[published]}" if published in titles else (
        "default (trained on first use)")  # fmt: skip
    labels = {DEFAULT_SOURCE: default, UPLOAD_SOURCE: "upload files"}
    source = picker("Models", "models", [DEFAULT_SOURCE, *titles, UPLOAD_SOURCE],
                    DEFAULT_SOURCE, lambda s: labels.get(s) or titles[s])  # fmt: skip
    return Selection(name, source)


def picker(label: str, param: str, options: list[str], default: str, describe) -> str:
    """A sidebar selectbox that starts from ?param=, else this session's last choice. A URL
    naming something that is not there says so in one line and shows the default."""
    remembered = state.last_choice_key(param)
    wanted = st.query_params.get(param) or st.session_state.get(remembered, default)
    if wanted not in options:
        wanted = default if default in options else options[0]
        if param in st.query_params:
            asked = display.markdown_text(repr(st.query_params[param][:60]))  # a link's words
            st.warning(f"This link asks for the {label.lower()} {asked}, which is not on this "
                       f"server: showing {describe(wanted)} instead.")  # fmt: skip
    value = st.sidebar.selectbox(
        label, options, index=options.index(wanted), format_func=describe, key=param
    )
    st.query_params[param] = st.session_state[remembered] = value
    return value


def model_pair(sel: Selection) -> ModelPair | None:
    """The selected pair, or None after showing why there is none yet (training, upload
    missing, bad files): the page then stops. Errors are messages, never tracebacks."""
    try:
        if sel.models == UPLOAD_SOURCE:
            return uploaded_pair(sel.dataset)
        folder = resources.default_folder(sel.dataset) if sel.models == DEFAULT_SOURCE else (
            runs.jobs_dir() / sel.models)  # fmt: skip
        if not runs.has_pair(folder):
            return wait_for_default(sel.dataset)
        return resources.pair_from_files(str(folder), (folder / "vae.safetensors").stat().st_mtime)
    except (DatasetError, CheckpointError, ValueError, OSError) as e:
        st.error(display.markdown_text(e, 500))  # may name the user's files
        return None


def uploaded_pair(name: str) -> ModelPair | None:
    if not teacher.is_teacher():
        st.info(
            "Only the teacher can upload checkpoints on this server (the teacher key: Teacher, "
            "in the sidebar). Pick the default or a trained run meanwhile."
        )
        return None
    st.sidebar.caption(
        f"Checkpoints from `python -m training fit`, at most {uploads.MAX_UPLOAD_MB} MB."
    )
    files = [
        uploads.file_uploader(f"{k.upper()} checkpoint", ["safetensors"], f"up_{k}", st.sidebar)
        for k in runs.KINDS
    ]
    if not all(files):
        st.info("Upload an AE and a VAE checkpoint (.safetensors) in the sidebar.")
        return None
    return resources.pair_from_bytes(files[0].getvalue(), files[1].getvalue(), name)


def wait_for_default(name: str) -> None:
    """Train the default pair in the background on first use; poll until it is saved."""
    job = resources.default_job(name)

    @st.fragment(run_every=1.0)
    def progress() -> None:
        job_state = job.state()
        if job_state.status == "finished" and runs.has_pair(runs.default_folder(name)):
            st.rerun()  # the job's own thread moved the pair into place (resources.after_job)
        if job_state.status in ("failed", "cancelled"):
            message = display.markdown_text(job_state.message, 500)
            st.error(f"Training the default models failed: {message}")
            return
        st.info(f"First use of **{name}**: training the default AE and VAE (saved for next time).")
        for kind, (step, total) in job_state.progress.items():
            st.progress(step / max(total, 1), text=f"{kind.upper()}: step {step} of {total}")

    progress()
