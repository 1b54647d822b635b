"""The live decode panel on a page: sends the pair's decoders to the browser once, then draws
the panel through the click listener, or says in one line why the server decodes instead."""

from __future__ import annotations

import streamlit as st

from explorer.core.live_view import panel_data
from explorer.core.model_pair import ModelPair
from explorer.core.points import Point
from explorer.core.web_decoder import Unsupported, read_header
from explorer.ui import point as picking
from explorer.ui import state
from explorer.ui.click import decoder_weights


def live_data(pair: ModelPair, point: Point, shown: list[int], with_pca: bool) -> dict | None:
    """The live panel's data for the click listener, its weights sent; None, with a one-line
    note, when the server must decode (the model cannot run in a browser, or this one failed)."""
    reason = state.server_decoding_reason(pair)
    if reason is None:
        try:
            bundle = pair.web_bundle(with_pca)
        except Unsupported as e:
            reason = str(e)
    if reason is not None:
        st.caption(f"Decoding on the server: {reason}.")
        return None
    decoder_weights(bundle, key="decoder_weights_pca" if with_pca else "decoder_weights")
    return panel_data(pair, point, shown, with_pca, read_header(bundle)["id"])


def callbacks(pair: ModelPair) -> dict:
    """on_point and on_fallback for click_listener: a point pinned in the browser is checked
    like any point from outside; a failure switches this session to server decoding."""

    def pinned(z: list[float]) -> None:
        if len(z) != pair.latent_dim:
            state.note_point(f"The browser sent a point with {len(z)} numbers: it was not used.")
            return
        state.set_point(picking.within_reach(pair, Point(tuple(z)), "The point"))

    return {"on_point": pinned, "on_fallback": lambda reason: state.decode_on_server(pair, reason)}
