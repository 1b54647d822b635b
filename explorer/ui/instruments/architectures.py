"""MLP vs conv vs GRU: a lineup of VAEs (training/lineup.py), one per coder architecture, with
the same latent size, data and batches, side by side: each one's error against PCA's, its
number of weights, reconstructions of the same test images, samples from the same prior draws
and its map.

The lineup of a dataset lives in runs/default/<dataset>/lineup/ (explorer/server/runs.py). On
first use the server's registry trains it in the background (explorer/server/trainers.py),
into a folder renamed into place when whole; `python -m training lineup` prepares it ahead of
a class.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from explorer.core import architectures, display, figures
from explorer.core.model_pair import ModelPair
from explorer.server import runs, trainers
from explorer.ui import resources
from explorer.ui.instruments import Instrument, model_sets
from explorer.ui.instruments.model_sets import N_SAMPLES, map_rows
from training.config import TrainConfig
from training.lineup import LINEUP_ARCHS, PATTERN, load_lineup, plan_lineup, steps_per_epoch

N_SHOWN = 6  # test images reconstructed by every coder: one row in a third of the page

EXPLANATION = (
    "Three VAEs with the same latent size, trained on the same images in the same batches for "
    "the same number of steps: only the coder differs. An MLP sees every pixel at once, with "
    "a weight from each pixel to each hidden unit. A conv coder slides small filters over the "
    "image, the same few weights at every place, so it needs far fewer. A GRU reads the image "
    "row by row, like a sentence, and carries a memory from one row to the next. Compare the "
    "error against PCA's, the reconstructions, the samples from the prior and the maps: what "
    "changes is what each coder finds easy to notice, not what the VAE is asked to do."
)


def wait_for_lineup(pair: ModelPair, folder: Path) -> None:
    """Train the lineup in the background on first use (once per server and dataset; again
    after a failure or when it was removed); poll until it is in place."""
    name = pair.dataset.name
    n = len(plan_lineup(pair.dataset).recipes)
    model_sets.wait_for(
        trainers.ensure_lineup(resources.trainers(), pair.dataset, folder),
        f"First use on **{name}**: training {n} VAEs, one per coder, one after the other "
        "(saved for next time; about a minute on digits).",
        f"python -m training lineup --dataset {name} --out {runs.shown(folder)}",
    )


def lineup_coders(
    pair: ModelPair, folder: Path, version: tuple
) -> tuple[list[architectures.Coder], TrainConfig]:
    """Every coder measured on this pair's map points and data, and how they were trained (one
    config but for the learning rate), once per pair and lineup version (ModelPair.shared:
    every session gets the same, read-only)."""

    def build() -> tuple[list[architectures.Coder], TrainConfig]:
        lineup = load_lineup(folder)
        args = (pair.dataset.pixels, *model_sets.measured_on(pair, lineup, folder, N_SHOWN))
        with st.spinner("Measuring the lineup's VAEs on the data (once per server)..."):
            coders = [
                architectures.measure_coder(c.model, c.train_config.beta, c.metrics, *args)
                for c in lineup.values()
            ]
        return coders, next(iter(lineup.values())).train_config

    return pair.shared(version, build)


def coder_map(pair: ModelPair, version: tuple, coders, arch: str, same_scale: bool):
    """The coder's map, built once per pair, lineup version and view."""

    def build():
        classes, names = pair.classes()
        classes = None if classes is None else classes[map_rows(pair)]
        return architectures.coder_map(coders, arch, classes, names, same_scale)

    return pair.shared((*version, "map", arch, same_scale), build)


def show_coder(pair: ModelPair, coder: architectures.Coder, figure, key: str) -> None:
    """One column: the coder's numbers, reconstructions, prior samples and map."""
    st.subheader(f"{architectures.arch_name(coder.arch)}")
    st.caption(architectures.HOW_IT_READS.get(coder.arch, ""))
    ratio = coder.pca_ratio
    mse, weights = st.columns(2)
    mse.metric(
        "Test MSE",
        f"{coder.measured.recon_mse:.4f}",
        None if ratio is None else f"{ratio:.2f}x PCA",
        delta_color="off",
        delta_arrow="off",  # below 1x is better: an arrow up would read as "worse" or "more"
        help="Mean squared error per pixel of the test images' reconstructions; against "
        "PCA with as many numbers per image (below 1x beats it).",
    )
    weights.metric("Weights", f"{coder.n_weights:,}")
    test = pair.dataset.test_indices[:N_SHOWN]
    shown = [pair.dataset.floats(test), coder.measured.reconstructions[:N_SHOWN]]
    st.image(
        display.display(display.tile(np.concatenate(shown), N_SHOWN), 360),
        output_format="PNG",
        width="stretch",  # 6 and 8 images across upscale to different widths: one column's
        caption="Test images (top) and their reconstructions (bottom)",
    )
    st.image(
        display.display(display.tile(coder.measured.samples, N_SAMPLES // 2), 360),
        output_format="PNG",
        width="stretch",
        caption=f"{N_SAMPLES} samples from the prior, the same draws for every coder",
    )
    st.plotly_chart(
        figure, key=f"{key}_map", on_select="ignore", width="stretch", config=figures.MAP_CONFIG
    )


def show(pair: ModelPair, key: str) -> None:
    folder = runs.lineup_folder(pair.dataset.name)
    if not any(folder.glob(PATTERN)):
        wait_for_lineup(pair, folder)
        return
    version = model_sets.version("lineup", folder, PATTERN)
    coders, trained_with = lineup_coders(pair, folder, version)
    dataset = pair.dataset
    plan = plan_lineup(dataset)
    for arch, reason in plan.skipped.items():
        st.caption(architectures.skip_note(arch, dataset.name, dataset.image_shape, reason))
    same_scale = st.toggle(
        "Same scale for every coder",
        value=True,
        key=f"{key}_same_scale",
        help="One axis range over every coder's map, so that the maps compare honestly; "
        "off: each map fills its frame.",
    )
    for coder, column in zip(coders, st.columns(len(coders)), strict=True):
        figure = coder_map(pair, version, coders, coder.arch, same_scale)
        with column:
            show_coder(pair, coder, figure, f"{key}_{coder.arch}")
    frame = pd.DataFrame(architectures.lineup_table(coders))
    st.dataframe(
        frame.style.format(
            {
                "weights": "{:,}",
                "reconstruction MSE": "{:.4f}",
                "x PCA's MSE": "{:.2f}",
                "KL (nats)": "{:.2f}",
            }
        ),
        hide_index=True,
        key=f"{key}_table",
    )
    batch = trained_with.batch_size
    steps = trained_with.epochs * steps_per_epoch(len(dataset.train_indices), batch)
    st.caption(
        f"Each VAE: {steps:,} steps of {batch} images (a preview's budget, not the "
        f"best each can do), with the latent size, likelihood and beta of the default pair "
        f"for {dataset.name}, and each architecture's own defaults otherwise. The lineup is "
        "the same whichever pair is selected; the coders tried are "
        f"{', '.join(map(architectures.arch_name, LINEUP_ARCHS))}."
    )


INSTRUMENT = Instrument(
    key="architectures", title="MLP vs conv vs GRU", explanation=EXPLANATION, show=show
)
