"""Demo for the click listener's browser tests: two maps, the last click printed as JSON.

Run from the repository root: python -m streamlit run tests/apps/click_demo.py
With ?late=1 the second map appears only after the first click, below the listener.
"""

import json

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from explorer.ui.click import click_listener, latest_click

CHART_KEYS = ["map_a", "map_b"]
# Two clicks less than plotly's doubleClickDelay (500 ms) apart make a double click, which would
# reset the zoom: tests click faster than that.
CONFIG = {"doubleClick": False}


def scatter_figure(points: np.ndarray, trace: type) -> go.Figure:
    """(N, 2) points as one trace, set up for click-anywhere; identical on every rerun."""
    fig = go.Figure(trace(x=points[:, 0], y=points[:, 1], mode="markers", marker={"size": 7}))
    fig.update_layout(
        clickmode="event",
        clickanywhere=True,
        uirevision="map",
        height=420,
        margin={"l": 40, "r": 10, "t": 10, "b": 30},
    )
    return fig


points = np.random.default_rng(0).normal(size=(200, 2))
late = st.query_params.get("late") == "1"

st.set_page_config(page_title="click demo", layout="wide")
# Counts full runs only: a click must rerun just the fragment below.
st.session_state.full_runs = st.session_state.get("full_runs", 0) + 1
st.text(f"full runs: {st.session_state.full_runs}")
left, right = st.columns(2)
# Scattergl on one map, SVG Scatter on the other: the app may use either.
left.plotly_chart(scatter_figure(points, go.Scattergl), key="map_a", config=CONFIG)
if not late:
    right.plotly_chart(scatter_figure(points, go.Scatter), key="map_b", config=CONFIG)


@st.fragment
def last_click() -> None:
    latest = latest_click()  # already holds the click that caused this rerun
    marker = None if latest is None else (latest["x"], latest["y"])
    click = click_listener(CHART_KEYS, marker=marker)
    st.code(json.dumps(click), language="json")
    if late and click is not None:
        st.plotly_chart(scatter_figure(points, go.Scatter), key="map_b", config=CONFIG)


last_click()
