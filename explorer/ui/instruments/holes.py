"""The hole map: both maps over a heat map of the re-encoding error, on one colour scale, with
the share of each view that is a hole."""

from __future__ import annotations

import time

import streamlit as st

from explorer.core import figures, holes
from explorer.core.instrument_figures import hole_maps
from explorer.core.model_pair import KINDS, ModelPair
from explorer.ui.instruments import Instrument


def hole_grids(pair: ModelPair) -> tuple[dict[str, holes.HoleGrid], float]:
    """Each model's hole grid over its own view and the seconds they took; built once per pair."""

    def build():
        start = time.perf_counter()
        grids = holes.pair_hole_grids(pair)
        return grids, time.perf_counter() - start

    return pair.shared(("hole_grids",), build)


def show(pair: ModelPair, key: str) -> None:
    grids, seconds = hole_grids(pair)
    figure = pair.shared(("hole_maps",), lambda: hole_maps(pair, grids))
    maps, side = st.columns([4, 1])
    maps.plotly_chart(
        figure, key=f"{key}_maps", on_select="ignore", width="stretch", config=figures.MAP_CONFIG
    )
    for kind in KINDS:
        side.metric(
            f"{kind.upper()}: share in holes",
            f"{grids[kind].hole_share():.0%}",
            help=f"threshold {grids[kind].threshold:.2f} spreads",
        )
    n = len(grids["ae"].xs)
    side.caption(
        f"A hole (beyond the dashed line): a point whose decoded image re-encodes more than "
        f"{holes.HOLE_THRESHOLD} spreads away, and more than {holes.DATA_FACTOR:g}x as far as "
        f"9 in 10 of the model's own data codes come back. Spread: the data's standard deviation "
        f"on the map. Each view: the data's 1st-99th percentile box plus a margin, {n} x {n} "
        f"points, computed in {seconds:.2f} s."
    )


INSTRUMENT = Instrument(
    key="holes",
    title="Hole map",
    explanation=(
        "Is the image decoded at a spot of the map a real-looking image or garbage? We test it "
        "by a round trip: decode the spot into an image, encode that image again, and see how "
        "far from the spot its code lands. Where the decoder draws something the encoder "
        "recognises, the code comes back (white); in a hole it lands elsewhere (red). The "
        "distance is counted in spreads of the data's dots on that map, because the AE's and "
        "the VAE's maps have very different scales: so one colour means the same on both. "
        "Look between the clusters and at the edges, where no training image was ever encoded."
    ),
    show=show,
)
