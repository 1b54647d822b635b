"""Posterior ellipses: the VAE map with each code's 1-sigma (and 2-sigma) ellipse from the
encoder's variance, and a readout of how unsure the encoder is, per map axis and per class."""

from __future__ import annotations

import streamlit as st

from explorer.core import figures
from explorer.core.instrument_figures import ellipse_map, ellipse_readout
from explorer.core.model_pair import ModelPair
from explorer.ui.instruments import Instrument

MAX_ELLIPSES = 300  # more only hides the map under outlines (and slows the browser)
ELLIPSE_STEP = 25  # the slider's step: one figure per count is kept with the pair


def ellipse_count(requested: int) -> int:
    """requested snapped to the slider's steps in [0, MAX_ELLIPSES]. Each count's figure is kept
    with the pair for every session, and Streamlit takes any in-range value a client sends (137):
    without the snap one session could fill the server's memory with 301 figures."""
    return min(MAX_ELLIPSES, max(0, round(requested / ELLIPSE_STEP) * ELLIPSE_STEP))


def show(pair: ModelPair, key: str) -> None:
    map_column, side = st.columns([3, 1])
    with side:
        count = st.slider(
            "Ellipses drawn",
            0,
            MAX_ELLIPSES,
            150,
            step=ELLIPSE_STEP,
            key=f"{key}_count",
            help="A seeded sample of the plotted points: the same for everyone.",
        )
        count = ellipse_count(count)
        two_sigma = st.toggle("2-sigma ellipses too (dotted)", key=f"{key}_two_sigma")
        st.markdown(ellipse_readout(pair))
        st.caption(
            "Radius: the geometric mean of an ellipse's two half-lengths. Where the posterior is "
            "wide, the decoder was trained to draw the same image from many nearby codes."
        )
    # One figure per option, kept with the pair: every session gets the same object.
    figure = pair.shared(
        ("ellipse_map", count, two_sigma), lambda: ellipse_map(pair, count, two_sigma)
    )
    map_column.plotly_chart(
        figure, key=f"{key}_map", on_select="ignore", width="stretch", config=figures.MAP_CONFIG
    )


INSTRUMENT = Instrument(
    key="ellipses",
    title="Posterior ellipses",
    explanation=(
        "A VAE's encoder does not give one point per image but a small cloud: a mean (the dot) "
        "and a spread (sigma), and during training the decoder sees a random code from that "
        "cloud. Each ellipse holds the codes within one standard deviation of the mean (the "
        "dotted one two). So the VAE encodes a region, not a point: the regions of neighbouring "
        "images overlap, which is what fills the map without gaps, and large ellipses show where "
        "the encoder is unsure. With more than two latent dimensions the map is a flat view of "
        "a bigger space, and each ellipse is the shadow of that cloud on the view."
    ),
    show=show,
)
