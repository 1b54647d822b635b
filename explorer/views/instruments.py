"""Instruments: what the lectures say about AEs and VAEs, measured on the selected pair."""

import streamlit as st

from explorer.core.display import markdown_text
from explorer.ui import sidebar
from explorer.ui.instruments import instruments

st.header("Instruments: see what the lectures say")
pair = sidebar.model_pair(sidebar.selection())
if pair is None:
    st.stop()

available = instruments()
keys = list(available)
wanted = st.query_params.get("instrument")
if wanted not in available:
    if wanted is not None:
        asked = markdown_text(repr(wanted[:60]))  # the URL's words, shown literally
        st.warning(f"There is no instrument {asked}: showing the first one.")
    wanted = keys[0]
key = (
    st.segmented_control(
        "Instrument",
        keys,
        default=wanted,
        format_func=lambda k: available[k].title,
        key="instrument_choice",
        label_visibility="collapsed",
    )
    or wanted
)
st.query_params["instrument"] = key
instrument = available[key]
st.info(instrument.explanation)
instrument.show(pair, f"instrument_{key}")
