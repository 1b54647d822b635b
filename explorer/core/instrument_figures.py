"""The hole map's and the posterior ellipses' figures, and the ellipses' readout: plain functions
of a model pair, no Streamlit (the instruments' widgets are in explorer/ui/instruments)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.core import figures, holes, posterior
from explorer.core.model_pair import KINDS, ModelPair

COLOUR_TOP = 3.0  # thresholds: the colour scale ends at 3x the larger map's hole threshold
# White where the round trip comes back, dark red in the holes.
COLOURS = [
    (0.0, "#ffffff"),
    (0.2, "#fee8c8"),
    (0.45, "#fdbb84"),
    (0.7, "#e34a33"),
    (1.0, "#7f0000"),
]
ELLIPSE_SEED = 0  # the drawn subset of ellipses is the same for every session


def hole_maps(pair: ModelPair, grids: dict[str, holes.HoleGrid]) -> go.Figure:
    """AE and VAE side by side: the error image, the threshold's contour and the data's points;
    one colour axis, so one colour bar, for both."""
    axes = figures.map_axes(pair.latent_dim)
    figure = make_subplots(
        rows=1, cols=2, subplot_titles=[f"{k.upper()} map" for k in KINDS], horizontal_spacing=0.08
    )
    for column, kind in enumerate(KINDS, 1):
        grid, xy = grids[kind], pair.xy(kind)
        hover = "(%{x:.2f}, %{y:.2f})<br>error %{z:.2f} spreads<extra></extra>"
        contours = {"start": grid.threshold, "end": grid.threshold, "size": 1, "coloring": "none"}
        traces = [
            go.Heatmap(
                x=grid.xs, y=grid.ys, z=grid.error, coloraxis="coloraxis", hovertemplate=hover
            ),
            go.Contour(
                x=grid.xs,
                y=grid.ys,
                z=grid.error,
                contours=contours,
                line={"color": "#222", "width": 1.5, "dash": "dash"},
                showscale=False,
                hoverinfo="skip",
            ),
            go.Scattergl(
                x=xy[:, 0],
                y=xy[:, 1],
                mode="markers",
                marker={"size": 3, "color": "#1f3b73", "opacity": 0.45},
                hoverinfo="skip",
            ),
        ]
        for trace in traces:
            figure.add_trace(trace, row=1, col=column)
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


def vae_posterior(pair: ModelPair) -> tuple[np.ndarray, np.ndarray]:
    """The VAE's posterior of the plotted points on its map: centres (M, 2), the map points
    themselves (the posterior means), and covariances (M, 2, 2); built once per pair."""

    def build():
        _, logvar = posterior.posterior_distribution(
            pair.models["vae"], pair.dataset.pixels, pair.indices
        )
        return posterior.projected_covariance(logvar, pair.projections["vae"].components)

    return pair.xy("vae"), pair.shared(("posterior_covariance",), build)


def ellipse_map(pair: ModelPair, count: int, two_sigma: bool) -> go.Figure:
    """The Explore page's VAE map with the ellipses of `count` seeded points drawn over it, one
    line trace per class (a trace has one colour), each outline broken from the next by NaN."""
    centres, cov = vae_posterior(pair)
    classes, names = pair.classes()
    projected = pair.latent_dim > 2
    title = (
        "VAE latent space: each code's 1-sigma"
        + (" and 2-sigma" if two_sigma else "")
        + (f" ellipse ({pair.latent_dim}-D, projected)" if projected else " ellipse")
    )
    figure = figures.latent_map(centres, classes, names, title, figures.map_axes(pair.latent_dim))
    figure.update_traces(marker_opacity=0.35, selector={"mode": "markers", "showlegend": False})
    chosen = posterior.seeded_subset(len(centres), count, ELLIPSE_SEED)
    colour_of = np.zeros(len(centres), dtype=int) if classes is None else classes
    for n_sigma, dash in ((1.0, "solid"), (2.0, "dot"))[: 2 if two_sigma else 1]:
        for c in np.unique(colour_of[chosen]):
            rows = chosen[colour_of[chosen] == c]
            x, y = posterior.ellipse_paths(centres[rows], cov[rows], n_sigma, n_vertices=32)
            line = {"color": figures.PALETTE[c % len(figures.PALETTE)], "width": 1, "dash": dash}
            figure.add_trace(
                go.Scattergl(
                    x=x,
                    y=y,
                    mode="lines",
                    line=line,
                    opacity=0.8 if n_sigma == 1 else 0.5,
                    hoverinfo="skip",
                    showlegend=False,
                )
            )
    figure.update_layout(height=560, uirevision=f"ellipses-{count}-{two_sigma}")
    return figure


def ellipse_groups(pair: ModelPair, centres: np.ndarray) -> tuple[np.ndarray, tuple[str, ...], str]:
    """Each point's class (or, unlabelled, its region of the map), the names, and the word."""
    classes, names = pair.classes()
    if classes is not None:
        return classes, names, "class"
    regions, names = posterior.map_regions(centres)
    return regions, names, "region of the map"


def ellipse_readout(pair: ModelPair) -> str:
    """Markdown: the median sigma along each map axis, against the codes' spread, and the
    class (or region) the encoder is least sure about."""
    centres, cov = vae_posterior(pair)
    sigma_xy = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))  # (M, 2)
    median = np.median(sigma_xy, axis=0)
    spread = centres.std(axis=0)
    labels, names, word = ellipse_groups(pair, centres)
    by_group = posterior.median_by_group(posterior.typical_sigma(cov), labels)
    worst = max(by_group, key=by_group.get)
    best = min(by_group, key=by_group.get)
    axis = figures.map_axes(pair.latent_dim, short=True)
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
