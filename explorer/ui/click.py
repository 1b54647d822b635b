"""Click anywhere on a Plotly chart, empty space included, and get the data coordinates in Python;
optionally with the live decode panel (explorer/web/live.js), which decodes in the browser
(decoder.js).

`st.plotly_chart(on_select=...)` reports clicks on points only. A figure with
`layout.clickmode="event"` and `layout.clickanywhere=True` makes plotly.js fire `plotly_click` on
empty space too; a frameless component (`click.js`) listens for it on each keyed chart and sends
the click back as a trigger value. It also draws the marker cross in the browser, so the figure in
Python never changes between reruns and the user's zoom survives.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import streamlit as st

from explorer.web import modules
from explorer.web.standalone import module_script

SCRIPT = module_script()  # click.js and what it imports, one module (the standalone page's too)

# Defined once at import: registering a component per call would re-register it on every rerun.
# Unisolated styles reach the page, so the CSS can hide the component's own element container: a
# zero-height element still takes a flex gap (16 px) in its column. Live panels rename the class.
_listener = st.components.v2.component(
    "latent_explorer_click_listener",
    html='<div class="latent-click-listener"></div>',
    css=modules.read("live.css"),
    js=SCRIPT,
    isolate_styles=False,
)


def click_listener(
    chart_keys: list[str],
    marker: tuple[float, float] | dict[str, tuple[float, float]] | None = None,
    key: str = "latent_click",
    live: dict | None = None,
    on_point: Callable[[list[float]], None] | None = None,
    on_fallback: Callable[[str], None] | None = None,
    on_value: Callable[[float], None] | None = None,
) -> dict | None:
    """Listen for clicks on the charts drawn with `st.plotly_chart(fig, key=k)` for k in chart_keys.

    The figures need `layout.clickmode="event"` and `layout.clickanywhere=True`, and trace 0
    must hold the points (legend-only traces may follow). Returns the latest click,
    `{"chart": key, "x": float, "y": float, "point_index": int | None, "seq": int}`, or None
    before the first click of the session. `x`, `y` are data coordinates: the point's own when
    the click hit a point of trace 0 (the nearest within `layout.hoverdistance`, 20 px by default,
    plus the marker radius; `point_index` is its index in the trace), else the exact spot clicked.
    `seq` grows with every click in the page.

    marker: a data point (x, y) marked with a small cross on every listed chart (or a dict
    {chart key: (x, y)} for one place per chart), drawn in the
    browser (the figures stay untouched); None draws none. A click moves the cross at once, before
    Python answers, and the rerun it causes then draws `marker`: compute it from
    `latest_click()`, which already holds that click, not from state of the previous run, or the
    cross jumps back to the previous place.

    live: the live decode panel's data (explorer/web/live_view.py), drawn where this is called,
    decoding with the weights sent by `decoder_weights`; None draws nothing. on_point(z) gets a
    point the browser pinned (slider release, arrow keys); on_value(t) the value a scrub slider
    was released at; on_fallback(reason) says the browser could not decode, so the server must.

    A click reruns the script, or only the fragment when this is called inside an `st.fragment`
    (the intended use: the charts, drawn outside it, are not re-sent). The click is returned on
    that rerun and on every later rerun, full or fragment, until the next click. Takes no space on
    the page; charts not on the page yet are picked up when they appear.
    """
    chart_keys = [str(k) for k in chart_keys]
    latest = latest_click(key)
    data = {
        "charts": chart_keys,
        "marker": _marker(marker),
        # Lets the browser ignore a rerun older than its latest click.
        "seq": 0 if latest is None else latest["seq"],
        "live": live,
    }

    def remember() -> None:
        # Runs before the rerun's script, so latest_click() already sees the new click.
        click = parse_click(st.session_state[key].get("click"), chart_keys)
        if click is not None:
            st.session_state[_store_key(key)] = click

    def remember_view() -> None:
        view = parse_view(st.session_state[key].get("view"), chart_keys)
        if view is not None:
            views = st.session_state.setdefault(_views_key(key), {})
            views[view[0]] = view[1]

    def pinned() -> None:
        z = parse_z(st.session_state[key].get("point"))
        if z is not None and on_point is not None:
            on_point(z)

    def failed() -> None:
        reason = st.session_state[key].get("fallback")
        if isinstance(reason, str) and on_fallback is not None:
            on_fallback(reason[:300])

    def released() -> None:
        value = st.session_state[key].get("value")
        try:
            t = float(value["value"])
        except (KeyError, TypeError, ValueError):
            return
        if math.isfinite(t) and on_value is not None:
            on_value(t)

    _listener(
        key=key,
        data=data,
        height="content" if live else 0,
        on_click_change=remember,
        on_view_change=remember_view,
        on_point_change=pinned,
        on_fallback_change=failed,
        on_value_change=released,
    )
    return latest_click(key)


def drawing_pad(data: dict, key: str, on_send: Callable[[object], None]) -> None:
    """The drawing pad (explorer/web/draw.js) with data {shape, grey, live: {bundles},
    background, sendable}; on_send gets the pixels the student sent (unchecked: from a
    browser)."""

    def sent() -> None:
        value = st.session_state[key].get("send")
        on_send(value.get("pixels") if isinstance(value, dict) else value)  # on_send checks

    _listener(key=key, data={"draw": data}, height="content", on_send_change=sent)


def decoder_weights(bundle: bytes, key: str) -> None:
    """Send a decoder bundle (explorer/web/web_decoder.py) to the browser, invisibly; a live
    panel names `key` to use it. Unchanged bytes travel once: Streamlit re-sends an unchanged
    large element as a reference to its hash."""
    _listener(key=key, data=bundle, height=0)


def parse_z(value: Any) -> list[float] | None:
    """The point the browser pinned, {"z": [numbers]}, as finite floats; None if malformed."""
    try:
        if not isinstance(value["z"], list):  # a string would pass as its characters
            return None
        z = [float(v) for v in value["z"]]
    except (KeyError, TypeError, ValueError):
        return None
    return z if z and all(math.isfinite(v) for v in z) else None


def visible_area(chart_key: str, key: str = "latent_click"):
    """((x0, x1), (y0, y1)): the data area of chart_key last seen in the browser after the user
    zoomed, panned or autoscaled it; None before any. Kept for the session, also on other pages."""
    return st.session_state.get(_views_key(key), {}).get(chart_key)


def parse_view(value: Any, chart_keys: list[str]):
    """(chart, ((x0, x1), (y0, y1))) from the browser's view report; None if malformed."""
    if not isinstance(value, dict) or value.get("chart") not in chart_keys:
        return None
    try:
        x0, x1 = _point(value["x"])
        y0, y1 = _point(value["y"])
    except (KeyError, TypeError, ValueError):
        return None
    if x0 == x1 or y0 == y1:
        return None
    return value["chart"], ((min(x0, x1), max(x0, x1)), (min(y0, y1), max(y0, y1)))


def _views_key(key: str) -> str:
    return f"_{key}_views"


def latest_click(key: str = "latent_click") -> dict | None:
    """The latest click that `click_listener(..., key=key)` received, or None; also before it runs.

    Callbacks run before the script, so in the rerun a click causes this already returns that click:
    read it first to place the marker, then call `click_listener(keys, marker=(c["x"], c["y"]))`.
    """
    return st.session_state.get(_store_key(key))


def parse_click(value: Any, chart_keys: list[str]) -> dict | None:
    """The click dict sent by the browser, checked and typed; None if absent or malformed."""
    if not isinstance(value, dict) or value.get("chart") not in chart_keys:
        return None
    try:
        x, y = _point((value["x"], value["y"]))
        seq = int(value["seq"])
        index = value.get("point_index")
        index = None if index is None else int(index)
    except (KeyError, TypeError, ValueError):
        return None
    return {"chart": value["chart"], "x": x, "y": y, "point_index": index, "seq": seq}


def _store_key(key: str) -> str:
    return f"_{key}_latest"


def _marker(marker) -> list[float] | dict[str, list[float]] | None:
    """One point for every chart, or a point per chart key (each map has its own coordinates)."""
    if marker is None:
        return None
    if isinstance(marker, dict):
        return {str(k): _point(v) for k, v in marker.items()}
    return _point(marker)


def _point(xy: tuple[float, float]) -> list[float]:
    x, y = (float(v) for v in xy)
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"point must be finite, got {xy!r}")
    return [x, y]
