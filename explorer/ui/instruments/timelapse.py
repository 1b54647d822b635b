"""Training time-lapse: both maps of a fixed set of training images replayed through training,
in step with a cursor on the loss curves, from the time-lapse saved with the run. The
animation plays in the browser (Plotly frames): no rerun while it plays."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from explorer.core import figures
from explorer.core.animation import slide_name
from explorer.core.model_pair import ModelPair
from explorer.core.timelapse_figure import mismatch, timelapse_figure
from explorer.core.timelapse_gif import MAP_SIDE, MAX_GIF_FRAMES, timelapse_gif
from explorer.server import runs
from explorer.ui.instruments import Instrument
from training.pretrained import MANIFEST, shipped_folder
from training.timelapse import FILENAME, Timelapse, TimelapseError, load_timelapse

if TYPE_CHECKING:
    import plotly.graph_objects as go

RETRAIN = "Train the models again (Train page, or `python -m training fit`) to record one."


def run_folder(pair: ModelPair) -> Path | None:
    """The runs folder the pair was loaded from (resources.pair_from_files names a pair after
    its folder), or None for uploaded checkpoints."""
    for source in (runs.DEFAULT_SOURCE, pair.label):
        found = runs.pair_folder(pair.dataset.name, source)
        if found is not None and found[0].name == pair.label:
            return found[0]
    return None


def figure_or_reason(pair: ModelPair) -> go.Figure | str:
    """The pair's animated figure, built once per pair and file version, or one line saying
    why there is none and how to get one."""
    folder = run_folder(pair)
    if folder is None:
        return "Uploaded checkpoints carry no training time-lapse. " + RETRAIN
    path = folder / FILENAME
    if not path.is_file():
        if shipped_folder(pair.dataset.name) and (folder / MANIFEST).is_file():
            return (
                "The shipped models come without a time-lapse (it would be 4x their size). "
                "Train a pair on the Train page to watch one form, or record this recipe's "
                f"with `python -m training pretrained {pair.dataset.name} --retrain --out "
                "DIR`."
            )
        if folder == runs.default_folder(pair.dataset.name):
            return (
                f"These default models were trained before time-lapses were recorded: "
                f"delete {runs.shown(folder)} and reopen the app to retrain them."
            )
        return "This run was trained before time-lapses were recorded. " + RETRAIN

    def build() -> go.Figure | str:
        try:
            lapse = load_timelapse(path)
        except TimelapseError as e:
            return f"The time-lapse cannot be read ({e}). " + RETRAIN
        reason = mismatch(lapse, pair)
        if reason is not None:
            return f"This run's time-lapse does not fit its models: {reason}. " + RETRAIN
        classes = recorded_classes(pair, lapse)
        return timelapse_figure(lapse, pair.projections, classes, pair.dataset.class_names)

    return pair.shared(("timelapse", str(path), path.stat().st_mtime_ns), build)


def recorded_classes(pair: ModelPair, lapse: Timelapse) -> np.ndarray | None:
    """(N,) integer classes of the recorded images, or None for a dataset without labels."""
    labels = pair.dataset.labels
    return None if labels is None else labels[lapse.indices]


def gif(pair: ModelPair) -> bytes:
    """The time-lapse as a GIF (timelapse_gif), built on the first download and kept with the
    pair. Called only after figure_or_reason found the file readable and fitting."""
    path = run_folder(pair) / FILENAME

    def build() -> bytes:
        lapse = load_timelapse(path)
        classes = recorded_classes(pair, lapse)
        return timelapse_gif(lapse, pair.projections, classes, pair.dataset.class_names)

    return pair.shared(("timelapse_gif", str(path), path.stat().st_mtime_ns), build)


def show(pair: ModelPair, key: str) -> None:
    figure = figure_or_reason(pair)
    if isinstance(figure, str):
        st.info(figure)
        return
    config = {**figures.MAP_CONFIG, "toImageButtonOptions": {"filename": "training-timelapse"}}
    st.plotly_chart(figure, key=f"{key}_figure", on_select="ignore", width="stretch", config=config)
    n_images = len(figure.data[0].x)
    residual = pair.models["ae"].config.arch == "residual"
    st.caption(
        f"Press Play, or drag the slider. {n_images} training images, the same for both models, "
        f"recorded at {len(figure.frames)} steps and drawn with the Explore maps' own axes, so "
        "the last frame is the Explore map. The curves: each training batch's loss, in nats "
        "per image."
        + (
            " These models start from PCA's map (step 0) and learn a correction to it, so their "
            "maps move less than an MLP's."
            if residual
            else ""
        )
    )
    st.download_button(
        "Download as GIF",
        lambda: gif(pair),  # built on the click, not on every rerun
        slide_name(pair.dataset.name, "timelapse", datetime.now()),
        "image/gif",
        key=f"{key}_gif",
        on_click="ignore",
        help=f"For a slide: the AE map beside the VAE map ({MAP_SIDE} px each, at most "
        f"{MAX_GIF_FRAMES} frames) with the step above them, looping; the trained maps stay "
        "up for 2 s.",
    )


INSTRUMENT = Instrument(
    key="timelapse",
    title="Training time-lapse",
    explanation=(
        "Training is a film, not a photo. While the models trained, both encoded the same few "
        "hundred training images every few dozen steps; Play replays it, with a red cursor on "
        "the loss curves. As the reconstruction loss falls, the AE pushes the classes apart "
        "wherever it likes, while the VAE's KL term keeps pulling its codes towards the centre, "
        "so its map grows as one round cloud. Most of the map forms early, where the loss drops "
        "fastest, and the last frame is the Explore map."
    ),
    show=show,
)
