"""The selected latent point, shared by clicks, sliders and the URL. Every point from outside
is checked (core/points.py): one that is not finite is refused with a message, one absurdly far
from the data is clipped (and the page says so)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer.core.model_pair import ModelPair
from explorer.core.points import Point, PointError, check_finite, clip_to_data, parse_point
from explorer.ui import state


def current_point(pair: ModelPair) -> Point:
    """The selected point: from this session, else from the URL (?point=i12 or ?point=0.5,-1),
    else the first plotted data point."""
    point = state.point()
    fits = point is not None and len(point.z) == pair.latent_dim and (
        point.index is None or point.index < len(pair.indices))  # fmt: skip
    if not fits:  # first visit, or another dataset or latent size was picked
        point = point_from_url(pair) or point_at(pair, 0)
        state.set_point(point)
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
        state.note_point(f"{what} lies far outside the data: it was moved to the nearest point "
                         "within three times the data's extent.")  # fmt: skip
    return Point(z)


def point_at(pair: ModelPair, index: int, kind: str = "vae") -> Point:
    return Point(tuple(float(v) for v in pair.codes[kind][index]), index)


def follow_click(pair: ModelPair, click: dict | None) -> None:
    """Select what a new click hit: a data point, or the exact spot on that map (through the
    map's inverse projection). A click already followed is ignored."""
    if not click or click["seq"] == st.session_state.get(state.LAST_CLICK):
        return
    st.session_state[state.LAST_CLICK] = click["seq"]
    kind = click["chart"].removeprefix("map_")
    if click["point_index"] is not None and click["point_index"] < len(pair.indices):
        state.set_point(point_at(pair, click["point_index"], kind if kind in pair.codes else "vae"))
        return
    if kind not in pair.projections:  # empty space on the PCA map: not a point of the models
        return
    with np.errstate(over="ignore", invalid="ignore"):
        z = pair.projections[kind].to_latent([[click["x"], click["y"]]])[0]
    try:
        state.set_point(within_reach(pair, Point(check_finite(z)), "The clicked point"))
    except PointError as e:
        state.note_point(f"The click was not used: {e}.")


def follow_sliders(pair: ModelPair, shown: list[int]) -> None:
    """on_change of the sliders: the shown ones' values replace those coordinates."""
    z = list(current_point(pair).z)
    for i in shown:
        z[i] = float(st.session_state[state.slider_key(i)])
    state.set_point(Point(tuple(z)))


def markers(pair: ModelPair, point: Point) -> dict[str, tuple[float, float]]:
    """Where the point sits on each map: a data point at its own code in each model, an empty
    spot at the same z (both decoders get the same numbers)."""
    out = {}
    for kind, projection in pair.projections.items():
        z = pair.codes[kind][point.index] if point.index is not None else np.array(point.z)
        out[f"map_{kind}"] = tuple(float(v) for v in projection.to_plane(z[None])[0])
    return out
