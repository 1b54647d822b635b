"""The Explore view as one figure for a slide: the AE's and the VAE's maps with the selected point
marked, and the point's images (the data point, then each model's decode) in a column beside
them, titled with the dataset and the point. Exported by explorer/core/export.py. No Streamlit.

The maps are the Explore page's own (figures.pair_maps), redrawn as SVG scatters: a WebGL trace
would come out of the export as a bitmap inside the SVG.
"""

from __future__ import annotations

import base64

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.core import display, figures
from explorer.core.model_pair import KINDS, ModelPair
from explorer.core.points import Point
from explorer.core.selection import markers

IMAGE_SIDE = 256  # px of each decoded image in the file (nearest-neighbour: no blur on a slide)
MARK_COLOR = "#ff4b4b"  # the page's marker cross (explorer/web/click.js)
WIDTHS = (0.39, 0.39, 0.22)  # of the figure: the two maps, then the images' column


def point_title(point: Point, digits: int = 2, shown: int = 4) -> str:
    """'data point #12', or 'z = (0.50, -1.00)' (the first `shown` coordinates, then '...')."""
    if point.index is not None:
        return f"data point #{point.index}"
    values = ", ".join(f"{v:.{digits}f}" for v in point.z[:shown])
    return f"z = ({values}{', ...' if len(point.z) > shown else ''})"


def point_images(pair: ModelPair, point: Point) -> list[tuple[str, np.ndarray]]:
    """(caption, (C, H, W) image in [0, 1]) for the images beside the maps: a data point's
    original and both reconstructions, or what both models decode an empty spot's z to."""
    if point.index is not None:
        return [
            (f"data point #{point.index}", pair.image(point.index)),
            *((f"{k.upper()} reconstruction", pair.reconstruct(k, point.index)) for k in KINDS),
        ]
    z = np.array([point.z])
    return [(f"{k.upper()} decodes z", pair.decode(k, z)[0]) for k in KINDS]


def image_trace(x: np.ndarray) -> go.Image:
    """(C, H, W) in [0, 1] -> an Image trace of its upscaled PNG (crisp pixels in SVG too)."""
    png = display.png_bytes(x, IMAGE_SIDE)
    return go.Image(source="data:image/png;base64," + base64.b64encode(png).decode("ascii"))


def svg_scatter(trace: go.Scattergl, legend: bool) -> go.Scatter:
    """A map's WebGL trace as an SVG one; the legend's entries kept only where legend."""
    spec = trace.to_plotly_json()
    spec.pop("type", None)
    spec.pop("hovertemplate", None)
    scatter = go.Scatter(spec)
    if not legend:
        scatter.showlegend = False
    return scatter


def slide_figure(
    pair: ModelPair, point: Point, color_by: str | None = None, same_scale: bool = True
) -> go.Figure:
    """One figure: the AE and VAE maps (as on the Explore page) with point marked on each, and
    its images stacked in a column beside them; the title names the dataset and the point."""
    images = point_images(pair, point)
    maps = figures.pair_maps(pair, color_by, same_scale, with_pca=False)
    spread = {"rowspan": len(images)}
    fig = make_subplots(
        rows=len(images),
        cols=3,
        specs=[[spread, spread, {}]] + [[None, None, {}] for _ in images[1:]],
        column_widths=list(WIDTHS),
        horizontal_spacing=0.05,
        vertical_spacing=0.06,
        subplot_titles=[maps[figures.map_key(k)].layout.title.text for k in KINDS]
        + [caption for caption, _ in images],
    )
    marked = markers(pair, point)
    for col, kind in enumerate(KINDS, start=1):
        chart = figures.map_key(kind)
        source = maps[chart]
        for trace in source.data:
            fig.add_trace(svg_scatter(trace, legend=col == 1), row=1, col=col)
        x, y = marked[chart]
        fig.add_trace(
            go.Scatter(
                x=[x],
                y=[y],
                mode="markers",
                name=point_title(point),
                showlegend=False,
                marker={
                    "symbol": "x",
                    "size": 16,
                    "color": MARK_COLOR,
                    "line": {"width": 1.5, "color": "white"},
                },
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(title_text=source.layout.xaxis.title.text, row=1, col=col)
        fig.update_yaxes(title_text=source.layout.yaxis.title.text, row=1, col=col)
        if source.layout.xaxis.range is not None:
            fig.update_xaxes(range=list(source.layout.xaxis.range), row=1, col=col)
            fig.update_yaxes(range=list(source.layout.yaxis.range), row=1, col=col)
    for row, (_, x) in enumerate(images, start=1):
        fig.add_trace(image_trace(x), row=row, col=3)
        fig.update_xaxes(visible=False, row=row, col=3)
        fig.update_yaxes(visible=False, scaleanchor=f"x{2 + row}", row=row, col=3)
    title = f"{display.plotly_text(pair.dataset.name)}: {point_title(point)}"
    fig.update_layout(
        title={"text": title, "x": 0.02},
        font={"size": 14},
        template="plotly_white",
        margin={"l": 60, "r": 20, "t": 70, "b": 90},
        legend={"orientation": "h", "x": 0, "y": -0.1, "yanchor": "top"},
    )
    return fig
