"""Plotly figure builders: plain functions from arrays to figures, no Streamlit.

The latent map comes out identical for identical inputs, and the click marker is drawn in the
browser (explorer/ui/click.py), not in the figure: clicks rerun only the decode fragment, so they
never re-send the scatter or reset the user's zoom.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from explorer.core.display import plotly_text
from explorer.core.model_pair import KINDS

if TYPE_CHECKING:
    from explorer.core.model_pair import ModelPair

PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
# Quick clicks must not count as a double click (it would reset the zoom), so Plotly's tip
# "Double-click to zoom back out" would lie: it is turned off, and the toolbar stays visible
# with its home button (reset axes) as the way back.
MAP_CONFIG = {
    "doubleClick": False,
    "showTips": False,
    "displayModeBar": True,
    "displaylogo": False,
    # Few buttons, so that they do not cover the map's title on a laptop screen.
    # Plotly 6 adds "Share chart..." (an upload to Plotly Cloud) outside Streamlit: a class's
    # file must not send anything anywhere.
    "modeBarButtonsToRemove": [
        "select2d",
        "lasso2d",
        "autoScale2d",
        "zoomIn2d",
        "zoomOut2d",
        "sendChartToCloud",
    ],
    "toImageButtonOptions": {"filename": "latent-map", "scale": 2},
}
# Shown under the maps, on the page and in the standalone file (markdown bold).
MAP_GAPS_EXPLAINED = (
    "**Why the AE map has gaps:** trained on reconstruction alone, the autoencoder may put codes "
    "anywhere, so clusters sit apart and the space between them was never trained: decode a gap "
    "and you get garbage. **The VAE** encodes each image as a distribution and pays a KL penalty "
    "for straying from N(0, I), which packs the codes into one dense, continuous blob."
)
TERM_NAMES = {"recon": "reconstruction", "kl": "KL", "l1": "L1 (sparsity)"}
# Of a map's chart key; the browser's copy of the rule is web/rules.js mapKind, tested against
# map_kind (tests/test_web_rules.py).
MAP_PREFIX = "map_"


def map_axes(latent_dim: int, short: bool = False) -> tuple[str, str]:
    """The axis titles of a map of latent_dim-D codes: the codes themselves in 2-D, else the
    first two principal axes of the PCA view ("PC 1", "PC 2" when short)."""
    if latent_dim <= 2:
        return "z1", "z2"
    suffix = "" if short else " of the codes"
    return f"PC 1{suffix}", f"PC 2{suffix}"


def map_key(kind: str) -> str:
    """The chart key of kind's map ("ae", "vae", "pca"): what click.js reports a click on."""
    return MAP_PREFIX + kind


def map_kind(chart: str) -> str:
    """The kind whose map has the chart key chart (map_key's inverse)."""
    return chart.removeprefix(MAP_PREFIX)


def discrete_colorscale(n: int) -> list[tuple[float, str]]:
    """A colorscale of n flat bands, class i in PALETTE[i]: with cmin=-0.5, cmax=n-0.5 each
    integer class value lands in its band. (Numbers, not one colour string per point: plotly
    validates strings one by one, which cost most of a rerun on 3,000 points.)"""
    scale = []
    for i in range(n):
        color = PALETTE[i % len(PALETTE)]
        scale += [(i / n, color), ((i + 1) / n, color)]
    return scale


def latent_map(
    xy: np.ndarray,
    classes: np.ndarray | None,
    class_names: tuple[str, ...],
    title: str,
    axis_titles: tuple[str, str] = ("z1", "z2"),
    axis_range: tuple[tuple[float, float], tuple[float, float]] | None = None,
) -> go.Figure:
    """A 2-D map of codes xy (N, 2), coloured by integer classes (N,) with a legend.

    One WebGL trace holds every point, so a clicked point's number is its row in xy; the
    legend comes from empty traces, one per class. Clicks anywhere (also on empty space) are
    reported to the browser (layout.clickanywhere) and uirevision keeps zoom across updates.
    Names and titles may come from a user's files (attribute names): they show as plain text.
    """
    marker = {"size": 5, "opacity": 0.8}
    if classes is not None:
        n = max(len(class_names), int(classes.max()) + 1)
        marker.update(color=classes, colorscale=discrete_colorscale(n), cmin=-0.5, cmax=n - 0.5)
    fig = go.Figure(
        go.Scattergl(
            x=xy[:, 0],
            y=xy[:, 1],
            mode="markers",
            marker=marker,
            showlegend=False,
            hovertemplate="#%{pointNumber}<br>(%{x:.2f}, %{y:.2f})<extra></extra>",
        )
    )
    for i, name in enumerate(class_names if classes is not None else ()):
        fig.add_trace(
            go.Scattergl(
                x=[None],
                y=[None],
                mode="markers",
                name=plotly_text(name),
                marker={"size": 8, "color": PALETTE[i % len(PALETTE)]},
            )
        )
    fig.update_layout(
        # The title sits below the toolbar's row, which would cover it on a laptop screen.
        title={
            "text": plotly_text(title),
            "x": 0.02,
            "y": 1,
            "yref": "container",
            "yanchor": "top",
            "pad": {"t": 30},
        },
        clickmode="event",
        clickanywhere=True,
        dragmode="zoom",
        uirevision="latent-map",
        height=460,
        margin={"l": 40, "r": 10, "t": 64, "b": 40},
        legend={"itemclick": False, "itemdoubleclick": False},
        xaxis_title=plotly_text(axis_titles[0]),
        yaxis_title=plotly_text(axis_titles[1]),
    )
    if axis_range is not None:
        fig.update_xaxes(range=list(axis_range[0]))
        fig.update_yaxes(range=list(axis_range[1]))
    return fig


def pair_maps(
    pair: ModelPair, color_by: str | None, same_scale: bool, with_pca: bool
) -> dict[str, go.Figure]:
    """The Explore page's maps of a pair, {chart key: figure}: "map_ae" and "map_vae" (one axis
    range over both when same_scale), then "map_pca" (PCA of the images) when with_pca.

    Each figure is built once per pair and options and kept with the pair
    (ModelPair.shared), so every session and rerun gets the same object: building one
    validates every property in Plotly (about 9 ms a map), while st.plotly_chart only copies and
    serializes it (about 1 ms). Treat them as read-only.
    """
    classes, names = pair.classes(color_by)
    projected = pair.latent_dim > 2
    axes = map_axes(pair.latent_dim)

    def code_map(kind: str) -> go.Figure:
        axis_range = shared_range(*(pair.xy(k) for k in KINDS)) if same_scale else None
        title = f"{kind.upper()} latent space" + (
            f" ({pair.latent_dim}-D, PCA view)" if projected else ""
        )
        return latent_map(pair.xy(kind), classes, names, title, axes, axis_range)

    def pca_map() -> go.Figure:
        return latent_map(pair.pca_xy(), classes, names, "PCA of the images", ("PC 1", "PC 2"))

    built = {
        map_key(kind): (("map", kind, color_by, same_scale), lambda k=kind: code_map(k))
        for kind in KINDS
    }
    if with_pca:
        built[map_key("pca")] = (("map", "pca", color_by), pca_map)
    return {chart: pair.shared(key, build) for chart, (key, build) in built.items()}


def shared_range(*xys: np.ndarray, margin: float = 0.05):
    """((x0, x1), (y0, y1)) covering every map, so maps side by side compare honestly."""
    points = np.concatenate(xys)
    low, high = points.min(0), points.max(0)
    pad = (high - low) * margin
    return (low[0] - pad[0], high[0] + pad[0]), (low[1] - pad[1], high[1] + pad[1])


def loss_curves(curves: dict[str, list[dict]]) -> go.Figure:
    """Training curves: one line per (model, loss term), reconstruction and KL separately."""
    fig = go.Figure()
    for kind, points in curves.items():
        steps = [p["step"] for p in points]
        for term, label in TERM_NAMES.items():
            if points and term in points[0]:
                dash = "solid" if term == "recon" else "dot"
                fig.add_trace(
                    go.Scatter(
                        x=steps,
                        y=[p[term] for p in points],
                        mode="lines",
                        name=f"{kind.upper()} {label}",
                        line={"dash": dash},
                    )
                )
    fig.update_layout(
        height=320,
        margin={"l": 40, "r": 10, "t": 30, "b": 40},
        xaxis_title="step",
        yaxis_title="nats per image",
        # Labels at 1, 2 and 5 of each decade only: Plotly's default labels every digit.
        yaxis={"type": "log", "dtick": "D2", "tickformat": "~g"},  # 0.5, not 500m
        uirevision="loss-curves",
    )
    return fig


def group_histograms(
    projections: np.ndarray, groups: np.ndarray, names: tuple[str, str], title: str
) -> go.Figure:
    """Overlaid histograms of the two groups' projections on a concept vector (in spreads):
    the further apart, the better the vector separates them."""
    fig = go.Figure()
    for g, name in enumerate(names):
        fig.add_trace(
            go.Histogram(
                x=projections[groups == g],
                name=plotly_text(name),
                histnorm="probability density",
                opacity=0.6,
                marker_color=PALETTE[g],
                nbinsx=40,
            )
        )
    fig.update_layout(
        barmode="overlay",
        title={"text": plotly_text(title), "x": 0.02},
        height=260,
        margin={"l": 40, "r": 10, "t": 40, "b": 40},
        xaxis_title="position along the vector (spreads)",
        legend={"orientation": "h", "y": -0.3},
    )
    return fig


def side_effect_bars(effects: dict[str, float], title: str, top: int = 12) -> go.Figure:
    """Horizontal bars: how far one spread along the vector moves each other concept (in its
    spreads), the largest |effect| on top."""
    items = sorted(effects.items(), key=lambda kv: abs(kv[1]), reverse=True)[:top][::-1]
    fig = go.Figure(
        go.Bar(
            x=[v for _, v in items],
            y=[plotly_text(k) for k, _ in items],
            orientation="h",
            marker_color=[PALETTE[3] if abs(v) > 0.3 else PALETTE[0] for _, v in items],
        )
    )
    fig.update_layout(
        title={"text": plotly_text(title), "x": 0.02},
        height=80 + 22 * max(len(items), 1),
        margin={"l": 10, "r": 10, "t": 40, "b": 40},
        xaxis_title="spreads moved per spread along the vector",
        xaxis_range=[-1, 1],
    )
    return fig
