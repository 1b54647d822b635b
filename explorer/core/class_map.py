"""The teacher's class map: the students' drawings where each model encodes them, over the
pair's own map, every drawing shown as a small picture at its point (Plotly cannot show an
image in a hover label, so the picture sits on the map and the hover names the student's
number and time). Pure: codes and pictures in, figures out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from explorer.core.figures import map_key, pair_maps
from explorer.core.model_pair import KINDS, ModelPair

THUMB_SHARE = 0.07  # a drawing's picture, as a share of the map's width
RING = "#e4007c"  # as the drawing pad's point (explorer/web/live.css)


@dataclass(frozen=True)
class Drawn:
    """One student's drawing: its code per model kind, its picture (a data: URL), and a label."""

    codes: dict[str, tuple[float, ...]]
    picture: str
    label: str


def class_maps(pair: ModelPair, drawn: list[Drawn]) -> dict[str, go.Figure]:
    """{chart key: figure} for the AE and the VAE: the pair's maps, faded, with every drawing."""
    base = pair_maps(pair, None, True, False)
    return {map_key(kind): with_drawings(base[map_key(kind)], pair, kind, drawn) for kind in KINDS}


def with_drawings(base: go.Figure, pair: ModelPair, kind: str, drawn: list[Drawn]) -> go.Figure:
    fig = go.Figure(base)  # a copy: the base is shared by every session
    fig.update_traces(marker_opacity=0.25, selector={"type": "scattergl"})
    fig.update_layout(title=f"{kind.upper()} latent space: the class's drawings", showlegend=False)
    if not drawn:
        return fig
    xy = pair.projections[kind].to_plane(np.array([d.codes[kind] for d in drawn]))
    fig.add_trace(
        go.Scatter(
            x=xy[:, 0],
            y=xy[:, 1],
            mode="markers",
            marker={"size": 14, "color": "rgba(0,0,0,0)", "line": {"color": RING, "width": 3}},
            hovertext=[d.label for d in drawn],
            hoverinfo="text",
            name="drawings",
        )
    )
    x_range = fig.layout.xaxis.range or (xy[:, 0].min() - 1, xy[:, 0].max() + 1)
    size = THUMB_SHARE * (x_range[1] - x_range[0])
    fig.update_layout(
        images=[
            {
                "source": d.picture,
                "xref": "x",
                "yref": "y",
                "x": x,
                "y": y,
                "sizex": size,
                "sizey": size,
                "xanchor": "center",
                "yanchor": "middle",
                "layer": "above",
            }
            for d, (x, y) in zip(drawn, xy, strict=True)
        ]
    )
    return fig
