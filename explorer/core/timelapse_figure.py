"""The training time-lapse as one animated Plotly figure: the AE map, the VAE map and the loss
curves, with Play/Pause buttons and a slider built into the figure, so the animation runs in
the browser without a round trip to the server. No Streamlit.

The recorded K-D codes are drawn with the pair's final projections (the Explore maps' own), so
the animation ends where the Explore maps are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.core.figures import PALETTE, discrete_colorscale, map_axes
from explorer.core.latent import Projection
from explorer.core.model_pair import KINDS, ModelPair
from training.timelapse import Timelapse

FRAME_MS = 200  # per frame while playing: 60 frames in about 12 s
HEIGHT, TOP = 560, 76  # pixels: the figure, and the band above the plots for buttons and legend
MAX_CURVE_POINTS = 1000  # per loss curve: more only slows the browser
# Traces in this order; the frames update the maps and the cursors only.
MAP_TRACES = {"ae": 0, "vae": 1}
CURSOR_TRACES = (2, 3)  # on the reconstruction and the KL plots
# Curves in black and grey, apart from the classes' colours on the maps; the cursor in red.
CURVE_STYLE = {
    ("ae", "recon"): ("#888888", "dot"),
    ("vae", "recon"): ("black", "solid"),
    ("vae", "kl"): ("black", "solid"),
}
CURSOR_COLOR = "rgba(214, 39, 40, 0.8)"


def projected_frames(lapse: Timelapse, projections: dict[str, Projection]) -> dict[str, np.ndarray]:
    """kind -> (F, N, 2) float32 (half the bytes sent to the browser): every frame's codes
    projected on the kind's map."""
    planes = {
        kind: [projections[kind].to_plane(z) for z in lapse.tracks[kind].codes] for kind in KINDS
    }
    return {kind: np.stack(xy).astype(np.float32) for kind, xy in planes.items()}


def mismatch(lapse: Timelapse, pair: ModelPair) -> str | None:
    """Why lapse cannot be replayed on pair's maps (one sentence), or None when it can."""
    if lapse.dataset != pair.dataset.name:
        return f"it was recorded on {lapse.dataset}, these models show {pair.dataset.name}"
    if set(KINDS) - set(lapse.tracks):
        return "it does not hold both an AE and a VAE"
    if len(lapse.indices) and (
        lapse.indices.min() < 0 or lapse.indices.max() >= len(pair.dataset.pixels)
    ):
        return "it names images this dataset does not have"
    for kind in KINDS:
        codes = lapse.tracks[kind].codes
        if len(codes) == 0 or codes.shape[2] != pair.latent_dim:
            return f"its {kind.upper()} codes do not have {pair.latent_dim} dimensions"
        # The last frame is recorded with the final weights: it must be these models' codes.
        now = pair.encode(kind, pair.dataset.floats(lapse.indices))
        if not np.allclose(codes[-1], now, rtol=1e-3, atol=1e-3 * (1 + np.abs(now).max())):
            return f"its last frame is not what this {kind.upper()} encodes (another run's file)"
    return None


def map_range(frames: np.ndarray, margin: float = 0.05) -> tuple[list[float], list[float]]:
    """Axis ranges for one map's frames (F, N, 2): all of the last frame (the trained map) and
    the middle 98% of every frame, so that a few far codes early on do not shrink the map."""
    low = np.minimum(frames[-1].min(0), np.quantile(frames.reshape(-1, 2), 0.01, axis=0))
    high = np.maximum(frames[-1].max(0), np.quantile(frames.reshape(-1, 2), 0.99, axis=0))
    pad = np.maximum(high - low, 1e-6) * margin
    return [low[0] - pad[0], high[0] + pad[0]], [low[1] - pad[1], high[1] + pad[1]]


@dataclass(frozen=True)
class LossAxis:
    """A loss plot's y axis: log where every value is positive (the KL, a Bernoulli
    reconstruction), else linear (a Gaussian likelihood's nats can be negative). range is in
    Plotly's units (log10 on a log axis); span is its two ends as data values."""

    type: str
    range: tuple[float, float]

    @property
    def span(self) -> list[float]:
        return [10**r for r in self.range] if self.type == "log" else list(self.range)


def loss_axis(*curves: np.ndarray) -> LossAxis:
    """The y axis that shows every finite value of curves, with a 5% margin."""
    values = np.concatenate([c[np.isfinite(c)] for c in curves])
    if len(values) == 0:
        return LossAxis("linear", (0.0, 1.0))
    log = bool(np.all(values > 0))
    shown = np.log10(values) if log else values
    low, high = float(shown.min()), float(shown.max())
    pad = max(high - low, 0.1 if log else 1e-3) * 0.05
    return LossAxis("log" if log else "linear", (low - pad, high + pad))


def thinned(n: int, max_points: int = MAX_CURVE_POINTS) -> np.ndarray:
    """At most max_points evenly spread indices of n, the first and last included."""
    return np.unique(np.linspace(0, n - 1, min(n, max_points)).round().astype(int))


def timelapse_figure(
    lapse: Timelapse,
    projections: dict[str, Projection],
    classes: np.ndarray | None = None,
    class_names: tuple[str, ...] = (),
    frame_ms: int = FRAME_MS,
) -> go.Figure:
    """The animated figure: the AE and VAE maps of the recorded images (coloured by integer
    classes (N,) when given), the reconstruction and KL curves with a cursor at each frame's
    step, one Plotly frame per recorded frame, a slider and Play/Pause/Replay buttons."""
    xy = projected_frames(lapse, projections)
    steps = lapse.tracks["vae"].steps
    latent_dim = lapse.tracks["vae"].codes.shape[2]
    fig = make_subplots(
        rows=2,
        cols=3,
        column_widths=[0.37, 0.37, 0.26],
        horizontal_spacing=0.06,
        vertical_spacing=0.16,
        specs=[[{"rowspan": 2}, {"rowspan": 2}, {}], [None, None, {}]],
        subplot_titles=(
            f"AE latent space{view_note(latent_dim)}",
            f"VAE latent space{view_note(latent_dim)}",
            "reconstruction: AE ···, VAE ―",
            "VAE's KL term",
        ),
    )
    marker = {"size": 5, "opacity": 0.8, "color": PALETTE[0]}
    if classes is not None:
        n = max(len(class_names), int(classes.max()) + 1)
        marker.update(color=classes, colorscale=discrete_colorscale(n), cmin=-0.5, cmax=n - 0.5)
    names = (
        None
        if classes is None
        else [str(class_names[c]) if c < len(class_names) else str(c) for c in classes]
    )
    for kind in KINDS:  # traces 0, 1: the maps at frame 0
        fig.add_trace(
            go.Scatter(
                x=xy[kind][0, :, 0],
                y=xy[kind][0, :, 1],
                mode="markers",
                marker=marker,
                text=names,
                showlegend=False,
                name=kind.upper(),
                hovertemplate="%{text}<extra></extra>" if names else None,
            ),
            row=1,
            col=1 + KINDS.index(kind),
        )
    loss_axes = (
        loss_axis(*(lapse.tracks[k].curve.get("recon", np.zeros(0)) for k in KINDS)),
        loss_axis(lapse.tracks["vae"].curve.get("kl", np.zeros(0))),
    )
    for row, axis in enumerate(loss_axes, start=1):  # traces 2, 3: the cursors
        fig.add_trace(cursor(steps[0], axis), row=row, col=3)
    add_curves(fig, lapse)
    for i, name in enumerate(class_names if classes is not None else ()):  # the legend
        color = PALETTE[i % len(PALETTE)]
        fig.add_trace(
            go.Scatter(x=[None], y=[None], mode="markers", name=str(name), marker={"color": color})
        )
    # Frames as plain dicts holding only what moves (each trace keeps its style): a third of
    # the time Plotly takes to check 60 frames of full traces.
    fig.frames = [
        {
            "name": str(step),
            "traces": [*MAP_TRACES.values(), *CURSOR_TRACES],
            "data": [
                *({"x": xy[k][i, :, 0], "y": xy[k][i, :, 1]} for k in KINDS),
                *({"x": [int(step)] * 2} for _ in CURSOR_TRACES),
            ],
        }
        for i, step in enumerate(steps)
    ]
    lay_out(fig, xy, steps, loss_axes, latent_dim, frame_ms)
    return fig


def view_note(latent_dim: int) -> str:
    return f" ({latent_dim}-D, PCA view)" if latent_dim > 2 else ""


def cursor(step: int, axis: LossAxis) -> go.Scatter:
    """A vertical line at step across the axis."""
    return go.Scatter(
        x=[step, step],
        y=axis.span,
        mode="lines",
        line={"color": CURSOR_COLOR, "width": 2},
        showlegend=False,
        hoverinfo="skip",
    )


def add_curves(fig: go.Figure, lapse: Timelapse) -> None:
    """The loss curves of every progress report (thinned), reconstruction and KL."""
    for (kind, term), (color, dash) in CURVE_STYLE.items():
        track = lapse.tracks[kind]
        if term not in track.curve or len(track.curve_steps) == 0:
            continue
        keep = thinned(len(track.curve_steps))
        fig.add_trace(
            go.Scatter(
                x=track.curve_steps[keep],
                y=track.curve[term][keep],
                mode="lines",
                line={"color": color, "width": 1.5, "dash": dash},
                name=f"{kind.upper()} {term}",
                showlegend=False,
            ),
            row=1 if term == "recon" else 2,
            col=3,
        )


def lay_out(fig, xy, steps, loss_axes, latent_dim: int, frame_ms: int) -> None:
    """Fixed axes (frames never rescale them), the buttons and the legend above the plots
    (Play in sight on a laptop screen), the slider below them."""
    axes = map_axes(latent_dim)
    for col, kind in enumerate(KINDS, start=1):
        x_range, y_range = map_range(xy[kind])
        fig.update_xaxes(range=x_range, title_text=axes[0], title_standoff=4, row=1, col=col)
        fig.update_yaxes(range=y_range, title_text=axes[1], title_standoff=4, row=1, col=col)
    for row, axis in enumerate(loss_axes, start=1):
        fig.update_xaxes(range=[0, max(int(steps[-1]), 1)], row=row, col=3)
        fig.update_yaxes(type=axis.type, range=list(axis.range), tickformat="~g", row=row, col=3)
    fig.update_xaxes(title_text="step", title_standoff=4, row=2, col=3)
    play = {
        "frame": {"duration": frame_ms, "redraw": False},
        "fromcurrent": True,
        "transition": {"duration": frame_ms * 3 // 4, "easing": "linear"},
    }
    still = {
        "mode": "immediate",
        "frame": {"duration": 0, "redraw": False},
        "transition": {"duration": 0},
    }
    buttons = [
        {"label": "▶ Play", "method": "animate", "args": [None, play]},
        {"label": "❚❚ Pause", "method": "animate", "args": [[None], still]},
        {
            "label": "⟲ Replay",
            "method": "animate",
            "args": [[str(s) for s in steps], {**play, "fromcurrent": False}],
        },
    ]
    fig.update_layout(
        height=HEIGHT,
        margin={"l": 50, "r": 10, "t": TOP, "b": 90},
        legend={
            "orientation": "h",
            "x": 0.26,
            "y": 1,
            "yref": "container",
            "yanchor": "top",
            "itemclick": False,
            "itemdoubleclick": False,
        },
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "showactive": False,
                "x": 0,
                "y": 1 + (TOP - 8) / (HEIGHT - TOP - 90),
                "xanchor": "left",
                "yanchor": "top",
                "buttons": buttons,
            }
        ],
        sliders=[
            {
                "active": 0,
                "x": 0,
                "len": 1,
                "y": -0.1,
                "yanchor": "top",
                "pad": {"t": 20},
                "currentvalue": {"prefix": "step ", "font": {"size": 13, "color": "#444"}},
                # 60 step labels would overlap: the current one is shown above the slider instead
                "font": {"color": "rgba(0, 0, 0, 0)"},
                "ticklen": 3,
                "steps": [
                    {"label": str(s), "method": "animate", "args": [[str(s)], still]} for s in steps
                ],
            }
        ],
    )
