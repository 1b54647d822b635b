"""Explore's panels: the hint, the map options, the maps side by side, and the decode panel
beside them (decoded images, sliders, and the live panel's listener)."""

from __future__ import annotations

from functools import partial

import numpy as np
import streamlit as st

from explorer.core import concepts, display, figures
from explorer.core.model_pair import KINDS, ModelPair
from explorer.core.points import slider_ranges
from explorer.core.selection import markers
from explorer.core.slide_figure import slide_figure
from explorer.ui import live, state
from explorer.ui import point as picking
from explorer.ui.click import click_listener, latest_click
from explorer.ui.slides import slide_downloads


def hint(pair: ModelPair) -> None:
    """The dataset's description and how to use the maps."""
    # The hint names the mouse, or a finger on a touch screen (live.css shows which). HTML:
    # the description's <, > and & are escaped by markdown_text and show as text
    # (test_security_browser).
    st.caption(
        f"{display.markdown_text(pair.dataset.description, 500)} "  # it names the user's folder
        "Each dot is one image, placed where the encoder puts its code. "
        '<span class="lx-hint-mouse">**Move the mouse over a map** to decode the point under it in '
        "both models; **click** a dot or empty space to pin it. Drag to zoom; the toolbar's home "
        'button zooms out.</span><span class="lx-hint-touch" style="display: none">**Drag a finger '
        "over a map** to decode the point under it in both models; where it lifts, or a **tap**, "
        "pins a point. On a phone the buttons over the map switch maps, and the strip beside it "
        "scrolls the page.</span>",
        unsafe_allow_html=True,
    )


def map_options(pair: ModelPair) -> tuple[str | None, bool, bool]:
    """(colour by: None for the class, else an attribute; the same scale on both maps; PCA too)."""
    attributes = list(pair.dataset.attribute_names)
    options = ([None] if pair.dataset.labels is not None else []) + attributes
    left, middle, right = st.columns(3)
    first = 0 if pair.dataset.labels is not None else concepts.preferred_index(attributes)
    color_by = left.selectbox(
        "Colour by", options, first, format_func=lambda a: a or "class", key="color_by"
    )
    same_scale = middle.toggle("Same scale on both maps", value=True, key="shared_scale")
    with_pca = right.toggle("Show PCA beside them", key="with_pca")
    return color_by, same_scale, with_pca


def maps(pair: ModelPair, color_by: str | None, same_scale: bool, with_pca: bool):
    """The maps in a row, their explanation and the download; returns the column beside them."""
    # Built once per pair and options, shared by every session (a third of a page run otherwise).
    figures_by_chart = figures.pair_maps(pair, color_by, same_scale, with_pca)
    *map_columns, decode_column = st.columns([1, 1, 1, 0.9] if with_pca else [1, 1, 0.9])
    for column, (chart, figure) in zip(map_columns, figures_by_chart.items(), strict=True):
        column.plotly_chart(
            figure, key=chart, on_select="ignore", width="stretch", config=figures.MAP_CONFIG
        )
    st.caption(figures.MAP_GAPS_EXPLAINED)
    live.download_page(pair, color_by, same_scale, with_pca)  # the maps as one file, on click
    return decode_column


def decoded_image(column, caption: str, x: np.ndarray, name: str) -> None:
    column.image(display.display(x), caption=caption, output_format="PNG", width="stretch")
    column.download_button(
        "PNG", display.png_bytes(x), f"{name}.png", "image/png", key=f"dl_{name}"
    )


def decoded_images(pair: ModelPair, point) -> None:
    """The picked data point with its three reconstructions, or what both models decode z to."""
    top, bottom = st.columns(2), st.columns(2)
    if point.index is not None:
        decoded_image(top[0], f"data point #{point.index}", pair.image(point.index), "original")
        decoded_image(top[1], "AE reconstruction", pair.reconstruct("ae", point.index), "ae")
        decoded_image(bottom[0], "VAE reconstruction", pair.reconstruct("vae", point.index), "vae")
        decoded_image(
            bottom[1],
            f"PCA, {pair.pca.n_components_} components",
            pair.pca_reconstruct(point.index),
            "pca",
        )
        return
    z = np.array([point.z])
    decoded_image(top[0], "AE decodes z", pair.decode("ae", z)[0], "ae")
    decoded_image(top[1], "VAE decodes z", pair.decode("vae", z)[0], "vae")
    bottom[0].markdown(
        "z = ("
        + ", ".join(f"{v:.2f}" for v in point.z[:8])
        + (", ..." if len(point.z) > 8 else "")
        + ")"
    )


def coordinates(pair: ModelPair) -> list[int]:
    """The coordinates that get a slider: those that matter most, or all on demand."""
    shown = pair.slider_coordinates
    if pair.latent_dim > len(shown) and st.toggle(
        f"All {pair.latent_dim} coordinates",
        key=state.ALL_SLIDERS,
        help=f"By default the {len(shown)} coordinates along which the codes vary most.",
    ):
        shown = list(range(pair.latent_dim))
    return shown


def sliders(pair: ModelPair, point, shown: list[int]) -> None:
    """Server decoding: one slider per coordinate, in sync with clicks (rerun on release)."""
    limits = slider_ranges(pair.bounds, point.z)
    columns = st.columns(2)
    for n, i in enumerate(shown):
        # Always from the point: a slider hidden in an earlier run may hold a stale value.
        st.session_state[state.slider_key(i)] = point.z[i]
        columns[n % 2].slider(
            f"z{i + 1}",
            *limits[i],
            key=state.slider_key(i),
            on_change=picking.follow_sliders,
            args=(pair, shown),
        )


@st.fragment
def decode_panel(pair: ModelPair, with_pca: bool, color_by: str | None, same_scale: bool) -> None:
    """Clicks rerun only this fragment: the maps are not sent again. Hover, sliders and arrow
    keys decode in the browser (explorer/web/live.js) and send only the point they pin."""
    picking.follow_click(pair, latest_click("latent_click"))  # the click behind this rerun
    point = picking.current_point(pair)
    note = state.pop_point_note()
    if note:
        st.warning(note)
    shown = coordinates(pair)
    live_panel = live.live_data(pair, point, shown, with_pca)
    kinds = [*KINDS, "pca"] if with_pca else list(KINDS)
    charts = [figures.map_key(kind) for kind in kinds]
    click_listener(
        charts,
        marker=markers(pair, point),
        key="latent_click",
        live=live_panel,
        **live.callbacks(pair),
    )
    if live_panel is None:
        decoded_images(pair, point)
        sliders(pair, point, shown)
    slide_downloads(
        partial(slide_figure, pair, point, color_by, same_scale),  # built on the click
        pair.dataset.name,
        "explore",
        key="explore_slide",
    )
    st.caption(
        "The same numbers go to both decoders. Where the AE never put a code, its decoder "
        "has never been trained and the image falls apart; the VAE's decoder was trained on "
        "noisy codes (z = mu + sigma * eps, the reparameterization trick), so every point "
        "near the data decodes to something plausible."
    )
