"""The teacher's class map on Explore: every student's latest drawing (explorer/ui/draw.py) on
the AE's and the VAE's map side by side, redrawn every 2 s without a reload, and a button to
clear it. Shown only to the teacher of a class (a teacher key, entered in this browser)."""

from __future__ import annotations

import time

import streamlit as st

from explorer.core.class_map import Drawn, class_maps
from explorer.core.model_pair import ModelPair
from explorer.server.classdb import Drawing
from explorer.ui import polls, state
from explorer.web.live_view import png_data_url

EVERY_S = 2.0


def section(pair: ModelPair) -> None:
    poll = polls.session()
    if poll is None or not poll.teaching:
        return
    st.subheader("Class map")
    live_maps(poll, pair)
    st.button(
        "Clear the class map",
        key="class_map_clear",
        icon=":material/delete_sweep:",
        on_click=polls.run_safely,
        args=(poll.db.clear_drawings, pair.dataset.name),
    )


@st.fragment(run_every=EVERY_S)
def live_maps(poll: polls.ClassPoll, pair: ModelPair) -> None:
    drawings = polls.run_safely(poll.db.drawings, pair.dataset.name) or ()
    st.caption(
        f"{len(drawings)} drawing{'' if len(drawings) == 1 else 's'} on {pair.dataset.name}: "
        "each student's latest, where each model encodes it."
    )
    for column, (chart, figure) in zip(st.columns(2), figures(pair, drawings).items(), strict=True):
        column.plotly_chart(figure, key=f"class_{chart}", width="stretch")


def figures(pair: ModelPair, drawings: tuple[Drawing, ...]) -> dict:
    """The class maps, built again only when a drawing came, changed or went: the fragment
    reruns every 2 s, mostly with nothing new."""
    seen = tuple((d.owner, d.at) for d in drawings)
    kept = st.session_state.get(state.CLASS_MAPS)
    if kept is None or kept[0] != (state.pair_id(pair), seen):
        drawn = [
            Drawn(
                d.codes,
                png_data_url(d.image.astype("float32") / 255),
                f"student {n + 1}, {time.strftime('%H:%M:%S', time.localtime(d.at))}",
            )
            for n, d in enumerate(drawings)
        ]
        kept = ((state.pair_id(pair), seen), class_maps(pair, drawn))
        st.session_state[state.CLASS_MAPS] = kept
    return kept[1]
