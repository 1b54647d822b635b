"""The hole map: both maps over a heat map of the re-encoding error, on one colour scale, with
the share of each view that is a hole."""

from __future__ import annotations

import time

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from explorer.core import figures, holes
from explorer.core.model_pair import KINDS, ModelPair
from explorer.ui.instruments import Instrument

COLOUR_TOP = 3.0  # thresholds: the colour scale ends at 3x the larger map's hole threshold
# White where the round trip comes back, dark red in the holes.
COLOURS = [(0.0, "#ffffff"), (0.2, "#fee8c8"), (0.45, "#fdbb84"), (0.7, "#e34a33"),
           (1.0, "#7f0000")]  # fmt: skip


def hole_grids(pair: ModelPair) -> tuple[dict[str, holes.HoleGrid], float]:
    """Each model's hole grid over its own view and the seconds they took; built once per pair."""

    def build():
        start = time.perf_counter()
        grids = holes.pair_hole_grids(pair)
        return grids, time.perf_counter() - start

    return pair.shared(("hole_grids",), build)


def hole_maps(pair: ModelPair, grids: dict[str, holes.HoleGrid]) -> go.Figure:
    """AE and VAE side by side: the error image, the threshold's contour and the data's points;
    one colour axis, so one colour bar, for both."""
    projected = pair.latent_dim > 2
    axes = ("PC 1 of the codes", "PC 2 of the codes") if projected else ("z1", "z2")
    figure = make_subplots(rows=1, cols=2, subplot_titles=[f"{k.upper()} map" for k in KINDS],
                           horizontal_spacing=0.08)  # fmt: skip
    for column, kind in enumerate(KINDS, 1):
        grid, xy = grids[kind], pair.xy(kind)
        figure.add_trace(
            go.Heatmap(
                x=grid.xs,
                y=grid.ys,
                z=grid.error,
                coloraxis="coloraxis",
                hovertemplate="(%{x:.2f}, %{y:.2f})<br>error %{z:.2f} spreads<extra></extra>",
            ),
            row=1,
            col=column,
        )
        figure.add_trace(
            go.Contour(
                x=grid.xs,
                y=grid.ys,
                z=grid.error,
                contours={"start": grid.threshold, "end": grid.threshold,
                          "size": 1, "coloring": "none"},
                line={"color": "#222", "width": 1.5, "dash": "dash"},
                showscale=False,
                hoverinfo="skip",
            ),
            row=1,
            col=column,
        )  # fmt: skip
        figure.add_trace(
            go.Scattergl(
                x=xy[:, 0],
                y=xy[:, 1],
                mode="markers",
                marker={"size": 3, "color": "#1f3b73", "opacity": 0.45},
                hoverinfo="skip",
            ),
            row=1,
            col=column,
        )
        figure.update_xaxes(title_text=axes[0], range=[grid.xs[0], grid.xs[-1]], row=1, col=column)
        figure.update_yaxes(title_text=axes[1], range=[grid.ys[0], grid.ys[-1]], row=1, col=column)
    figure.update_layout(
        coloraxis={
            "colorscale": COLOURS,
            "cmin": 0,
            "cmax": COLOUR_TOP * max(g.threshold for g in grids.values()),
            "colorbar": {"title": {"text": "re-encoding<br>error<br>(spreads)"}},
        },
        showlegend=False,
        height=480,
        margin={"l": 40, "r": 10, "t": 40, "b": 40},
        uirevision="hole-maps",
    )
    return figure


def show(pair: ModelPair, key: str) -> None:
    grids, seconds = hole_grids(pair)
    figure = pair.shared(("hole_maps",), lambda: hole_maps(pair, grids))
    maps, side = st.columns([4, 1])
    maps.plotly_chart(figure, key=f"{key}_maps", on_select="ignore", width="stretch",
                      config=figures.MAP_CONFIG)  # fmt: skip
    for kind in KINDS:
        side.metric(f"{kind.upper()}: share in holes", f"{grids[kind].hole_share():.0%}",
                    help=f"threshold {grids[kind].threshold:.2f} spreads")  # fmt: skip
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
