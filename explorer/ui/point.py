"""The selected latent point in this session and the URL, shared by clicks, sliders and links.
Every point from outside is checked (core/points.py): one that is not finite is refused with a
message, one absurdly far from the data is clipped (and the page says so). What a point is on a
pair (a data point's code, the markers, what a click selects) is core/selection.py."""

from __future__ import annotations

import streamlit as st

from explorer.core.model_pair import ModelPair
from explorer.core.points import Point, PointError, clip_to_data, parse_point
from explorer.core.selection import clicked_point, fits, point_at
from explorer.ui import state


def select(point: Point) -> None:
    """Select point; a data point also becomes one of the two that seed the interpolation."""
    state.set_point(point)
    if point.index is not None:
        state.add_pick(point.index)


def current_point(pair: ModelPair) -> Point:
    """The selected point: from this session, else from the URL (?point=i12 or ?point=0.5,-1),
    else the first plotted data point."""
    point = state.point()
    if not fits(pair, point):  # first visit, or another dataset or latent size was picked
        point = point_from_url(pair) or point_at(pair, 0)
        select(point)
    return point


def point_from_url(pair: ModelPair) -> Point | None:
    text = st.query_params.get("point", "")
    if not text:
        return None
    try:
        point = parse_point(text, pair.codes["vae"])
    except PointError as e:
        state.note_point(f"The link's point is not used: {e}. Showing the first data point.")
        return None
    return within_reach(pair, point, "The link's point")


def within_reach(pair: ModelPair, point: Point, what: str) -> Point:
    """The point, clipped to a sane distance from the data (saying so when it was)."""
    if point.index is not None:
        return point
    z, clipped = clip_to_data(point.z, pair.bounds)
    if clipped:
        state.note_point(
            f"{what} lies far outside the data: it was moved to the nearest point "
            "within three times the data's extent."
        )
    return Point(z)


def follow_click(pair: ModelPair, click: dict | None) -> None:
    """Select what a new click hit (a data point, or the exact spot on that map). A click
    already followed is ignored."""
    if not click or click["seq"] == st.session_state.get(state.LAST_CLICK):
        return
    st.session_state[state.LAST_CLICK] = click["seq"]
    try:
        point = clicked_point(pair, click["chart"], click["x"], click["y"], click["point_index"])
    except PointError as e:
        state.note_point(f"The click was not used: {e}.")
        return
    if point is not None:
        select(point if point.index is not None else within_reach(pair, point, "The clicked point"))


def follow_sliders(pair: ModelPair, shown: list[int]) -> None:
    """on_change of the sliders: the shown ones' values replace those coordinates."""
    z = list(current_point(pair).z)
    for i in shown:
        z[i] = float(st.session_state[state.slider_key(i)])
    state.set_point(Point(tuple(z)))
