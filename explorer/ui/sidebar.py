"""The sidebar's dataset and model pickers, kept in step with the URL, and the selected model
pair (or why there is none yet: training on first use, an upload missing, a bad file)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from explorer.core import display
from explorer.core.model_pair import ModelPair
from explorer.server import classroom, defaults, runs
from explorer.ui import resources, state, teacher, uploads
from training.checkpoints import CheckpointError
from training.data import DatasetError, relative_paths
from training.pretrained import PretrainedError, shipped_folder

DEFAULT_SOURCE = runs.DEFAULT_SOURCE
PREVIEW_LABEL = "**Preview models.**"
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
        st.sidebar.warning(
            f"{resources.DATA_ENV}={asked} is not a folder (seen from "
            f"{here}): only the built-in datasets are listed."
        )
    name = picker(
        "Dataset", "dataset", list(choices), resources.opening_dataset(list(choices)), str
    )
    summary, where = choices[name]
    summary = display.markdown_text(summary[:1].upper() + summary[1:], 300)  # may name a folder
    root = resources.data_root()  # its path is the server's business, not the class's
    where = relative_paths(where, Path(root).expanduser()) if root else where
    st.sidebar.caption(f"{summary}.", help=f"Found: {display.markdown_text(where)}")
    # Without the dataset's name (the picker above says it), so that the part that tells runs
    # apart (settings, time) is not cut off in the sidebar's width.
    titles = {run.id: run.settings for run in runs.trained_runs(name)}
    published = classroom.published_run(name)
    made = "shipped" if shipped_folder(name) else "trained on first use"
    default = f"class default: {titles[published]}" if published in titles else f"default ({made})"
    labels = {DEFAULT_SOURCE: default, UPLOAD_SOURCE: "upload files"}
    source = picker(
        "Models",
        "models",
        [DEFAULT_SOURCE, *titles, UPLOAD_SOURCE],
        DEFAULT_SOURCE,
        lambda s: labels.get(s) or titles[s],
    )
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
            st.warning(
                f"This link asks for the {label.lower()} {asked}, which is not on this "
                f"server: showing {describe(wanted)} instead."
            )
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
        found = runs.pair_folder(sel.dataset, class_source(sel.dataset, sel.models))
        return resources.pair_from_files(*found) if found else default_pair(sel.dataset)
    except (DatasetError, CheckpointError, ValueError, OSError) as e:
        st.error(display.markdown_text(e, 500))  # may name the user's files
        return None


def class_source(name: str, source: str) -> str:
    """source, or for the default the run the teacher published as the class default."""
    return (classroom.published_run(name) or source) if source == DEFAULT_SOURCE else source


def default_pair(name: str) -> ModelPair | None:
    """The class default, else the shipped pair, else the full pair trained here; while that
    trains, its preview (labelled, with the full pair's progress), or the wait for either."""
    source = class_source(name, DEFAULT_SOURCE)
    if runs.pair_folder(name, source) is None:
        try:
            resources.install_shipped(name)
        except PretrainedError as e:  # a changed shipped file: refused, and trained here instead
            st.warning(
                f"The shipped models are refused: {display.markdown_text(e, 1000)}. "
                "Training the models here instead."
            )
    found = runs.pair_folder(name, source)
    if found is not None:
        return resources.pair_from_files(*found)
    stages = resources.default_stages(name)
    resources.default_pairs().ensure(name, stages)
    preview = runs.pair_folder(name, DEFAULT_SOURCE, "preview")
    if preview is not None:
        full_pair_progress(name)
        return resources.pair_from_files(*preview)
    wait_for_default(name, stages[0])
    return None


@st.fragment(run_every=2.0)
def full_pair_progress(name: str) -> None:
    """One line above the page (in view on a phone, where the sidebar is folded): the preview's
    label and the full pair's progress. Once the full pair is saved, the whole app reruns with
    it (the page and the selected point stay)."""
    if runs.has_pair(runs.default_folder(name)):
        st.rerun()
    job = resources.default_pairs().job(name, "full")
    job_state = job.state() if job is not None else None
    if job_state is not None and job_state.status in ("failed", "cancelled"):
        st.warning(
            f"**Preview models.** Training the full models failed: "
            f"{display.markdown_text(job_state.message, 300)}"
        )
        return
    done = defaults.progress_of(job_state) if job_state is not None else None
    fraction = done.fraction if done else 0.0
    left = defaults.describe_time(done.seconds_left if done else None)
    st.caption(
        f"{PREVIEW_LABEL} The AE and VAE look alike until the full models are ready "
        f"(the preview cannot show the AE's holes or its off-data samples): "
        f"full models {fraction:.0%}, {left}."
    )


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


def wait_for_default(name: str, stage: str) -> None:
    """The first use of a dataset: its first pair trains in the background; poll until saved."""
    what = (
        "a preview AE and VAE (the full ones follow)"
        if stage == "preview"
        else ("the default AE and VAE (saved for next time)")
    )

    @st.fragment(run_every=1.0)
    def progress() -> None:
        job = resources.default_pairs().job(name, stage)
        job_state = job.state() if job is not None else None
        if runs.has_pair(runs.default_folder(name, stage)):
            st.rerun()  # the job's own thread moved the pair into place (resources.after_job)
        if job_state is not None and job_state.status in ("failed", "cancelled"):
            message = display.markdown_text(job_state.message, 500)
            st.error(f"Training the default models failed: {message}")
            return
        st.info(f"First use of **{name}**: training {what}.")
        steps = job_state.progress if job_state else {}
        for kind, (step, total) in steps.items():
            st.progress(step / max(total, 1), text=f"{kind.upper()}: step {step} of {total}")
        if len(steps) == len(runs.KINDS) and all(s >= n for s, n in steps.values()):
            st.caption("Trained: evaluating and saving the models...")  # 10-15 s on faces

    progress()
