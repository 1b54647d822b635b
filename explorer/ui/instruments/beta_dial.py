"""The beta dial: a ladder of VAEs over beta (training/ladder.py) and a dial that moves through
them: each one's map, reconstructions, prior samples and KL per latent dimension.

The ladder of a dataset lives in runs/default/<dataset>/ladder/ (explorer/server/runs.py). On
the dial's first use the server's registry trains it in the background (explorer/server/
trainers.py, once per dataset and server, like the default pair), into a folder renamed into
place when whole, so that a half ladder is never shown. `python -m training ladder` prepares it
ahead of a class.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from explorer.core import beta_dial, display, figures
from explorer.core.model_pair import ModelPair
from explorer.server import runs, trainers
from explorer.ui import resources
from explorer.ui.instruments import Instrument, model_sets
from explorer.ui.instruments.model_sets import N_SAMPLES, map_rows
from training.ladder import DEFAULT_BETAS, PATTERN, load_ladder

N_SHOWN = 8  # test images reconstructed by every rung


EXPLANATION = (
    "A VAE's loss is reconstruction + beta x KL: beta sets how hard the codes are pulled "
    "towards N(0, I). The same VAE was trained four times, with beta 0, 0.1, 1 and 4; turn the "
    "dial. At beta 0 it is an autoencoder with noise: sharp reconstructions, codes anywhere, "
    "poor samples from the prior. As beta grows the codes pack into one dense blob: samples "
    "improve and reconstructions blur. Too much beta and the encoder gives latent dimensions "
    "up: their KL falls to 0 and they carry nothing about the image (posterior collapse), as "
    "the bars and the count of active units show."
)


def wait_for_ladder(pair: ModelPair, folder: Path) -> None:
    """Train the ladder in the background on first use (once per server and dataset; again
    after a failure or when the ladder was removed); poll until it is in place."""
    name = pair.dataset.name
    model_sets.wait_for(
        trainers.ensure_ladder(resources.trainers(), pair.dataset, folder),
        f"First use of the dial on **{name}**: training {len(DEFAULT_BETAS)} VAEs, one per "
        "beta (saved for next time).",
        f"python -m training ladder --dataset {name} --out {runs.shown(folder)}",
    )


def ladder_rungs(pair: ModelPair, folder: Path, version: tuple) -> list[beta_dial.Rung]:
    """Every rung measured on this pair's map points and data, once per pair and ladder
    version (ModelPair.shared: every session gets the same, read-only)."""

    def build() -> list[beta_dial.Rung]:
        ladder = load_ladder(folder)
        args = model_sets.measured_on(pair, ladder, folder, N_SHOWN)
        with st.spinner("Measuring the ladder's VAEs on the data (once per server)..."):
            return [
                beta_dial.measure_rung(
                    c.model, beta, pair.dataset.pixels, *args, recon_mse=c.metrics.get("recon_mse")
                )
                for beta, c in ladder.items()
            ]

    return pair.shared(version, build)


def dial_map(
    pair: ModelPair, version: tuple, rungs: list[beta_dial.Rung], beta: float, same_scale: bool
):
    """The rung's map, in Explore's look; one axis range over every rung when same_scale.
    Built once per pair, ladder version and view (building validates every point)."""

    def build():
        classes, names = pair.classes()
        classes = None if classes is None else classes[map_rows(pair)]
        return beta_dial.rung_map(rungs, beta, classes, names, same_scale)

    return pair.shared((*version, "map", beta, same_scale), build)


def table(rungs: list[beta_dial.Rung], current: float):
    """The ladder's numbers, the dial's row marked and highlighted."""
    frame = pd.DataFrame(beta_dial.ladder_table(rungs))
    frame.insert(0, "dial", ["▶" if r.beta == current else "" for r in rungs])
    return frame.style.apply(
        lambda row: ["background-color: #fff3b0" if row["dial"] else ""] * len(row), axis=1
    ).format({"beta": "{:g}", "reconstruction MSE": "{:.4f}", "KL (nats)": "{:.2f}"})


def beta_name(beta: float) -> str:
    """The dial's label of a beta: 0 and 1 say what they are."""
    return {0.0: "0 (an AE with noise)", 1.0: "1 (the ELBO)"}.get(beta, f"{beta:g}")


def show(pair: ModelPair, key: str) -> None:
    folder = runs.ladder_folder(pair.dataset.name)
    if not any(folder.glob(PATTERN)):
        wait_for_ladder(pair, folder)
        return
    version = model_sets.version("beta_dial", folder, PATTERN)
    rungs = ladder_rungs(pair, folder, version)
    by_beta = {r.beta: r for r in rungs}
    left, right = st.columns([3, 1])
    beta = left.select_slider(
        "beta, the weight of the KL term",
        list(by_beta),
        value=1.0 if 1.0 in by_beta else rungs[0].beta,
        format_func=beta_name,
        key=f"{key}_beta",
    )
    same_scale = right.toggle(
        "Same scale for every beta",
        value=True,
        key=f"{key}_same_scale",
        help="One axis range over every beta's map, so that the maps "
        "compare honestly; off: each map fills its frame.",
    )
    rung = by_beta[beta]
    map_column, images_column = st.columns([1, 1])
    figure = dial_map(pair, version, rungs, beta, same_scale)
    map_column.plotly_chart(
        figure, key=f"{key}_map", on_select="ignore", width="stretch", config=figures.MAP_CONFIG
    )
    with images_column:
        test = pair.dataset.test_indices[:N_SHOWN]
        pairs = np.concatenate([pair.dataset.floats(test), rung.reconstructions])
        st.image(
            display.display(display.tile(pairs, N_SHOWN), 480),
            output_format="PNG",
            caption="Test images (top) and their reconstructions (bottom)",
        )
        st.image(
            display.display(display.tile(rung.samples, N_SAMPLES // 2), 480),
            output_format="PNG",
            caption="16 samples from the prior N(0, I), the same draws for every beta",
        )
    bars_column, table_column = st.columns([1, 1])
    bars_column.plotly_chart(beta_dial.kl_bars(rung), key=f"{key}_kl", width="stretch")
    table_column.dataframe(table(rungs, beta), hide_index=True, key=f"{key}_table")
    n_measured = min(len(pair.dataset.test_indices), beta_dial.MAX_STAT_SAMPLES)
    table_column.caption(
        f"KL and active units measured on {n_measured} test images, the reconstruction MSE on "
        f"all {len(pair.dataset.test_indices)}. A dimension is active when its mean varies over "
        f"the data by more than {beta_dial.ACTIVE_THRESHOLD} (Burda et al., 2016). The ladder "
        f"uses the default recipe for {pair.dataset.name}, whichever pair is selected."
    )


INSTRUMENT = Instrument(key="beta_dial", title="Beta dial", explanation=EXPLANATION, show=show)
