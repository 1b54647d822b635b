"""Demo for the click listener's browser tests: two maps, the last click printed as JSON.

Run from the repository root: python -m streamlit run tests/apps/click_demo.py
"""

import json

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from explorer.click import click_listener, latest_click

CHART_KEYS = ["map_a", "map_b"]


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


rng = np.random.default_rng(0)
points = rng.normal(size=(200, 2))

st.set_page_config(page_title="click demo", layout="wide")
# Counts full runs only: a click must rerun just the fragment below.
st.session_state.full_runs = st.session_state.get("full_runs", 0) + 1
st.text(f"full runs: {st.session_state.full_runs}")
left, right = st.columns(2)
# Scattergl on one map, SVG Scatter on the other: the app may use either. Two clicks less than
# plotly's doubleClickDelay (500 ms) apart make a double click, which would reset the zoom.
config = {"doubleClick": False}
left.plotly_chart(scatter_figure(points, go.Scattergl), key="map_a", config=config)
right.plotly_chart(scatter_figure(points, go.Scatter), key="map_b", config=config)


@st.fragment
def last_click() -> None:
    latest = latest_click()  # already holds the click that caused this rerun
    marker = None if latest is None else (latest["x"], latest["y"])
    click = click_listener(CHART_KEYS, marker=marker)
    st.code(json.dumps(click), language="json")


last_click()
