"""What the instruments that show a set of VAEs the server trains on their first use (the beta
dial's ladder, the lineup of coders) share: waiting for the set with a progress bar, what
identifies it on disk, and the same images and prior draws for every model of it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from explorer.core import beta_dial, display
from explorer.core.model_pair import ModelPair
from explorer.server import runs, trainers
from training.checkpoints import Checkpoint

N_SAMPLES = 16  # prior draws decoded by every model of a set
# Points on each model's map: an even thinning of the pair's. The dial measures four models at
# once, and encoding the pair's 3,000 faces with each made its first draw 1.7 s (target: 1 s).
MAP_POINTS = 1000


def wait_for(task: trainers.Task, intro: str, command: str) -> None:
    """Poll task every second under intro (markdown); command: how to prepare it beforehand.
    The whole page reruns once it is finished."""

    @st.fragment(run_every=1.0)
    def progress() -> None:
        state = task.state()
        if state.status == "finished":
            st.rerun()
        if state.status == "failed":
            st.error(display.markdown_text(state.message, 500))
            return
        left = (
            "estimating the time"
            if state.seconds_left is None
            else (f"about {max(1, round(state.seconds_left))} s left")
        )
        st.info(intro)
        st.progress(state.fraction, text=f"{state.message} ({left})")
        st.caption(f"To prepare it ahead of a class: `{command}`")

    progress()


def version(tag: str, folder: Path, pattern: str) -> tuple:
    """What identifies a set on disk now: its files' names and times."""
    return (tag, str(folder), *((f.name, f.stat().st_mtime) for f in folder.glob(pattern)))


def map_rows(pair: ModelPair) -> np.ndarray:
    """Rows of pair.indices shown on each model's map, evenly spread over them."""
    n = len(pair.indices)
    return np.linspace(0, n - 1, min(n, MAP_POINTS)).round().astype(int)


def measured_on(
    pair: ModelPair, models: dict[object, Checkpoint], folder: Path, n_shown: int
) -> tuple[np.ndarray, ...]:
    """What every model of the set in folder is measured on, the same for each: the map's
    indices, the measured test images, the n_shown reconstructed ones and the prior draws.
    A ValueError when the set takes other images than the pair's data."""
    shapes = {c.config.image_shape for c in models.values()}
    if shapes != {pair.dataset.image_shape}:
        raise ValueError(
            f"the models in {runs.shown(folder)} take images {shapes}, "
            f"{pair.dataset.name} has {pair.dataset.image_shape}"
        )
    latent_dim = next(iter(models.values())).config.latent_dim
    test = pair.dataset.test_indices
    return (
        pair.indices[map_rows(pair)],
        beta_dial.measured_subset(test),
        test[:n_shown],
        beta_dial.prior_draws(N_SAMPLES, latent_dim),
    )
