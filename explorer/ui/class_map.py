"""The teacher's class map on Explore: every student's latest drawing (explorer/ui/draw.py) on
the AE's and the VAE's map side by side, redrawn every 2 s without a reload, and a button to
clear it. Shown only to the teacher of a class (a teacher key, entered in this browser)."""

from __future__ import annotations

import time

import streamlit as st

from explorer.core.class_map import Drawn, class_maps
from explorer.core.model_pair import ModelPair
from explorer.ui import polls
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
    drawn = [
        Drawn(
            {kind: d.codes[kind] for kind in d.codes},
            png_data_url(d.image.astype("float32") / 255),
            f"student {n + 1}, {time.strftime('%H:%M:%S', time.localtime(d.at))}",
        )
        for n, d in enumerate(drawings)
    ]
    st.caption(
        f"{len(drawn)} drawing{'' if len(drawn) == 1 else 's'} on {pair.dataset.name}: each "
        "student's latest, where each model encodes it."
    )
    for column, (chart, figure) in zip(st.columns(2), class_maps(pair, drawn).items(), strict=True):
        column.plotly_chart(figure, key=f"class_{chart}", width="stretch")
