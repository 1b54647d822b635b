"""The slide kit's buttons: any Plotly figure as SVG and as a 300-dpi PNG, built on the click
(explorer/core/export.py does the exporting, explorer/core/animation.slide_name the names)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import streamlit as st

from explorer.core import export
from explorer.core.animation import slide_name

if TYPE_CHECKING:  # figures are built in explorer/core/ (tests/test_architecture.py)
    import plotly.graph_objects as go

SLIDE_HELP = (
    "For a slide: a 16:9 figure (13.3 x 7.5 in), as an SVG that stays sharp at any size, or a "
    "PNG at 300 dpi (4000 x 2250 px). Made on the click, in a few seconds."
)


def slide_downloads(
    figure: go.Figure | Callable[[], go.Figure], dataset: str, view: str, key: str
) -> None:
    """Two download buttons, "SVG for slides" and "PNG, 300 dpi", of figure (or of what the
    callable builds, on the click only), named '<dataset>_<view>_<date>.svg'/'.png'. Where the
    server has no browser to export with, one line says so instead."""
    if export.find_browser() is None:
        st.caption(export.NO_BROWSER)
        return

    def build() -> go.Figure:
        return figure() if callable(figure) else figure

    when = datetime.now()
    formats = (
        ("SVG for slides", export.svg_bytes, "svg", "image/svg+xml"),
        ("PNG, 300 dpi", export.png_bytes, "png", "image/png"),
    )
    for column, (label, make, ext, mime) in zip(st.columns(2), formats, strict=True):
        column.download_button(
            label,
            lambda make=make: make(build()),  # bound now: the click comes after the loop
            slide_name(dataset, view, when, ext),
            mime,
            key=f"{key}_{ext}",
            on_click="ignore",
            help=SLIDE_HELP,
        )
