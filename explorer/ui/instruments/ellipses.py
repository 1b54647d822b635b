"""Posterior ellipses: the VAE map with each code's 1-sigma (and 2-sigma) ellipse from the
encoder's variance, and a readout of how unsure the encoder is, per map axis and per class."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from explorer.core import figures, posterior
from explorer.core.model_pair import ModelPair
from explorer.ui.instruments import Instrument

MAX_ELLIPSES = 300  # more only hides the map under outlines (and slows the browser)
ELLIPSE_STEP = 25  # the slider's step: one figure per count is kept with the pair
SEED = 0  # the drawn subset is the same for every session


def ellipse_count(requested: int) -> int:
    """requested snapped to the slider's steps in [0, MAX_ELLIPSES]. Each count's figure is kept
    with the pair for every session, and Streamlit takes any in-range value a client sends (137):
    without the snap one session could fill the server's memory with 301 figures."""
    return min(MAX_ELLIPSES, max(0, round(requested / ELLIPSE_STEP) * ELLIPSE_STEP))


def distribution(pair: ModelPair) -> tuple[np.ndarray, np.ndarray]:
    """The VAE's posterior of the plotted points on its map: centres (M, 2), the map points
    themselves (the posterior means), and covariances (M, 2, 2); built once per pair."""

    def build():
        _, logvar = posterior.posterior_distribution(
            pair.models["vae"], pair.dataset.pixels, pair.indices
        )
        return posterior.projected_covariance(logvar, pair.projections["vae"].components)

    return pair.xy("vae"), pair.shared(("posterior_covariance",), build)


def groups(pair: ModelPair, centres: np.ndarray) -> tuple[np.ndarray, tuple[str, ...], str]:
    """Each point's class (or, unlabelled, its region of the map), the names, and the word."""
    classes, names = pair.classes()
    if classes is not None:
        return classes, names, "class"
    regions, names = posterior.map_regions(centres)
    return regions, names, "region of the map"


def ellipse_map(pair: ModelPair, count: int, two_sigma: bool) -> go.Figure:
    """The Explore page's VAE map with the ellipses of `count` seeded points drawn over it, one
    line trace per class (a trace has one colour), each outline broken from the next by NaN."""
    centres, cov = distribution(pair)
    classes, names = pair.classes()
    projected = pair.latent_dim > 2
    axes = ("PC 1 of the codes", "PC 2 of the codes") if projected else ("z1", "z2")
    title = (
        "VAE latent space: each code's 1-sigma"
        + (" and 2-sigma" if two_sigma else "")
        + (f" ellipse ({pair.latent_dim}-D, projected)" if projected else " ellipse")
    )
    figure = figures.latent_map(centres, classes, names, title, axes)
    figure.update_traces(marker_opacity=0.35, selector={"mode": "markers", "showlegend": False})
    chosen = posterior.seeded_subset(len(centres), count, SEED)
    colour_of = np.zeros(len(centres), dtype=int) if classes is None else classes
    for n_sigma, dash in ((1.0, "solid"), (2.0, "dot"))[: 2 if two_sigma else 1]:
        for c in np.unique(colour_of[chosen]):
            rows = chosen[colour_of[chosen] == c]
            x, y = posterior.ellipse_paths(centres[rows], cov[rows], n_sigma, n_vertices=32)
            figure.add_trace(
                go.Scattergl(
                    x=x,
                    y=y,
                    mode="lines",
                    line={
                        "color": figures.PALETTE[c % len(figures.PALETTE)],
                        "width": 1,
                        "dash": dash,
                    },
                    opacity=0.8 if n_sigma == 1 else 0.5,
                    hoverinfo="skip",
                    showlegend=False,
                )  # fmt: skip
            )
    figure.update_layout(height=560, uirevision=f"ellipses-{count}-{two_sigma}")
    return figure


def readout(pair: ModelPair) -> str:
    """Markdown: the median sigma along each map axis, against the codes' spread, and the
    class (or region) the encoder is least sure about."""
    centres, cov = distribution(pair)
    sigma_xy = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))  # (M, 2)
    median = np.median(sigma_xy, axis=0)
    spread = centres.std(axis=0)
    labels, names, word = groups(pair, centres)
    by_group = posterior.median_by_group(posterior.typical_sigma(cov), labels)
    worst = max(by_group, key=by_group.get)
    best = min(by_group, key=by_group.get)
    axis = ("PC 1", "PC 2") if pair.latent_dim > 2 else ("z1", "z2")
    return "\n".join(
        [
            "**Median sigma on the map**",
            *(
                f"- {a}: **{m:.3g}** (the codes spread {s:.3g}: {m / s:.0%} of it)"
                for a, m, s in zip(axis, median, spread, strict=True)
            ),
            "",
            f"**By {word}**",
            "",
            f"- most uncertain {word}: **{names[worst]}** (median radius {by_group[worst]:.3g})",
            f"- most certain {word}: **{names[best]}** (median radius {by_group[best]:.3g})",
        ]
    )


def show(pair: ModelPair, key: str) -> None:
    map_column, side = st.columns([3, 1])
    with side:
        count = st.slider(
            "Ellipses drawn", 0, MAX_ELLIPSES, 150, step=ELLIPSE_STEP, key=f"{key}_count",
            help="A seeded sample of the plotted points: the same for everyone.",
        )  # fmt: skip
        count = ellipse_count(count)
        two_sigma = st.toggle("2-sigma ellipses too (dotted)", key=f"{key}_two_sigma")
        st.markdown(readout(pair))
        st.caption(
            "Radius: the geometric mean of an ellipse's two half-lengths. Where the posterior is "
            "wide, the decoder was trained to draw the same image from many nearby codes."
        )
    # One figure per option, kept with the pair: every session gets the same object.
    figure = pair.shared(("ellipse_map", count, two_sigma),
                         lambda: ellipse_map(pair, count, two_sigma))  # fmt: skip
    map_column.plotly_chart(figure, key=f"{key}_map", on_select="ignore", width="stretch",
                            config=figures.MAP_CONFIG)  # fmt: skip


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
