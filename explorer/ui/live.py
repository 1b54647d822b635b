"""The live decode panel on a page: sends the pair's decoders to the browser once, then draws
the panel through the click listener, or says in one line why the server decodes instead."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from explorer.core.model_pair import ModelPair
from explorer.core.points import Point
from explorer.core.selection import fits, point_at
from explorer.ui import point as picking
from explorer.ui import state
from explorer.ui.click import click_listener, decoder_weights
from explorer.web.live_view import panel_data, scrub_data
from explorer.web.standalone import standalone_html
from explorer.web.web_decoder import Unsupported, pair_bundle, read_header


def sent_weights(pair: ModelPair, with_pca: bool = False) -> str | None:
    """Send the pair's decoders to the browser (once: unchanged bytes travel as a hash) and
    return their bundle id; None, with a one-line note, when the server must decode (the model
    cannot run in a browser, or this browser failed to)."""
    reason = state.server_decoding_reason(pair)
    if reason is None:
        try:
            bundle = pair_bundle(pair, with_pca)
        except Unsupported as e:
            reason = str(e)
    if reason is not None:
        st.caption(f"Decoding on the server: {reason}.")
        return None
    decoder_weights(bundle, key="decoder_weights_pca" if with_pca else "decoder_weights")
    return read_header(bundle)["id"]


def live_data(pair: ModelPair, point: Point, shown: list[int], with_pca: bool) -> dict | None:
    """The Explore panel's data for the click listener, its weights sent; None when the server
    must decode."""
    # One dict object, which the download's callable reads later, outside the script.
    st.session_state.setdefault(state.PANEL_VIEW, {}).update(point=point, shown=list(shown))
    bundle_id = sent_weights(pair, with_pca)
    return bundle_id and panel_data(pair, point, shown, with_pca, bundle_id)


def scrub(
    pair: ModelPair,
    key: str,
    start: dict,
    end: dict,
    method: str,
    slider: tuple,
    captions: dict[str, str],
    on_value: Callable[[float], None],
    strip: int = 0,
) -> bool:
    """A slider that decodes along a path in the browser as it moves (see live_view.scrub_data);
    on_value(t) gets the value it is released at. False when the server must decode (the page
    then draws its own st.slider)."""
    bundle_id = sent_weights(pair)
    if bundle_id is None:
        return False
    data = scrub_data(bundle_id, start, end, method, slider, captions, strip)
    fallback = callbacks(pair)["on_fallback"]
    click_listener([], key=key, live=data, on_value=on_value, on_fallback=fallback)
    return True


def callbacks(pair: ModelPair) -> dict:
    """on_point and on_fallback for click_listener: a point pinned in the browser is checked
    like any point from outside; a failure switches this session to server decoding."""

    def pinned(z: list[float]) -> None:
        if len(z) != pair.latent_dim:
            state.note_point(f"The browser sent a point with {len(z)} numbers: it was not used.")
            return
        state.set_point(picking.within_reach(pair, Point(tuple(z)), "The point"))

    return {"on_point": pinned, "on_fallback": lambda reason: state.decode_on_server(pair, reason)}


def download_page(pair: ModelPair, color_by: str | None, same_scale: bool, with_pca: bool) -> None:
    """The "Download as HTML" button: these maps and both decoders in one self-contained file
    (explorer/web/standalone.py), pinned where the live panel is. Built only when clicked:
    `data` is a callable, which Streamlit runs then, outside the script, so a rerun only
    registers it (a build takes 30-700 ms)."""
    try:
        pair_bundle(pair, with_pca)
    except Unsupported as e:
        st.button("Download as HTML", disabled=True, help=f"Not for these models: {e}.")
        return
    view = st.session_state.setdefault(state.PANEL_VIEW, {})  # the fragment keeps it current

    def build() -> bytes:
        point, shown = view.get("point"), view.get("shown", [])
        if not fits(pair, point) or not all(0 <= i < pair.latent_dim for i in shown):
            point, shown = point_at(pair, 0), pair.slider_coordinates
        return standalone_html(pair, point, shown, with_pca, color_by, same_scale)

    st.download_button(
        "Download as HTML",
        build,
        f"latent-explorer-{pair.dataset.name}.html",
        "text/html",
        on_click="ignore",
        key="download_html",
        help="These maps with both decoders in one file: open it in a browser, no server or "
        "network needed, and it hovers and decodes like this page.",
    )
