"""Helpers for browser tests of the Explore page's live decode panel (explorer/web/live.js):
the page opened with its panel drawn, its canvases and captions, and the point the URL carries."""

from __future__ import annotations

import time
from collections.abc import Sequence
from urllib.parse import parse_qs, urlparse

import numpy as np
from browser import wait_for_app_idle, wait_for_chart

PANEL = ".lx-live"
FIGCAPTIONS = ".lx-live figure:not([hidden]) figcaption"
CANVASES = "() => [...document.querySelectorAll('.lx-live canvas')].map(c => c.toDataURL())"
MAPS = ("map_ae", "map_vae")


def open_explore(
    context,
    url: str,
    timeout: float = 60.0,
    size: tuple[int, int] | None = None,
    charts: Sequence[str] = MAPS,
):
    """A new page (of a browser context, or of a browser: then in a context of its own) on the
    Explore page at a viewport size, its `charts` and live panel drawn; `page.sent` counts the
    websocket frames the page sends (every rerun request is one)."""
    page = context.new_page()
    if size:
        page.set_viewport_size({"width": size[0], "height": size[1]})
    page.sent = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda _: page.sent.append(1)))
    page.goto(url)
    for key in charts:
        wait_for_chart(page, key, timeout=timeout)
    wait_for_panel(page, timeout)
    wait_for_app_idle(page, timeout)
    return page


def wait_for_panel(page, timeout: float = 30.0) -> None:
    """Until the panel has decoded into its canvases (the weights arrived and parsed)."""
    page.wait_for_function(
        "() => { const p = document.querySelector('.lx-live');"
        " return p && !p.classList.contains('lx-loading') && p.querySelector('canvas')?.width > 0"
        " && window.latentExplorerStats?.frames.length > 0; }",
        timeout=timeout * 1000,
    )


def canvases(page) -> list[str]:
    """Every decoded image of the panel, as a PNG data URL of its canvas."""
    return page.evaluate(CANVASES)


def settled_canvases(page, timeout: float = 10.0) -> list[str]:
    """The panel's canvases once they stop changing (two reads 300 ms apart agree): a grid
    switched on can be drawn again after its first draw, as the maps settle."""
    deadline = time.monotonic() + timeout
    shown = canvases(page)
    while time.monotonic() < deadline:
        page.wait_for_timeout(300)  # the drawing has no event to wait on
        shown, previous = canvases(page), shown
        if shown == previous:
            break
    return shown


def canvas_rasters(page) -> list[np.ndarray]:
    """Every decoded image of the panel as grey pixels (H, W) (the red channel: a sparkline is
    grey)."""
    shapes_and_pixels = page.evaluate(
        "() => [...document.querySelectorAll('.lx-live canvas')].map(c => [c.height, c.width,"
        " Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)"
        ".filter((_, i) => i % 4 === 0)])"
    )
    return [np.array(p, np.uint8).reshape(h, w) for h, w, p in shapes_and_pixels]


def drawn_rasters(page, shape: tuple[int, int], count: int, timeout: float = 30.0):
    """The panel's canvases of shape (H, W) with something drawn on them, once there are count
    of them (or what there is at the timeout): the strips are drawn after the page is idle."""
    deadline = time.monotonic() + timeout
    while True:
        drawn = [r for r in canvas_rasters(page) if r.shape == shape and r.min() < r.max()]
        if len(drawn) >= count or time.monotonic() > deadline:
            return drawn
        page.wait_for_timeout(200)  # the drawing has no event to wait on


def wait_for_new_canvases(page, old: list[str], timeout: float = 10.0) -> list[str]:
    """Until every canvas differs from `old` (each model decoded something new); the new ones."""
    page.wait_for_function(
        "old => [...document.querySelectorAll('.lx-live canvas')]"
        ".every((e, i) => e.toDataURL() !== old[i])",
        arg=old,
        timeout=timeout * 1000,
    )
    return canvases(page)


def figcaptions(page) -> list[str]:
    return page.locator(FIGCAPTIONS).all_inner_texts()


def wait_for_figcaption(page, text: str, timeout: float = 20.0) -> None:
    page.wait_for_function(
        "([s, t]) => [...document.querySelectorAll(s)].some(e => e.textContent === t)",
        arg=[FIGCAPTIONS, text],
        timeout=timeout * 1000,
    )


def url_point(page) -> str:
    """The page URL's ?point= ("i12" or "0.5,-1.2"); "" without one."""
    return parse_qs(urlparse(page.url).query).get("point", [""])[0]


def wait_for_url_point_change(page, old: str, timeout: float = 15.0) -> str:
    page.wait_for_function(
        "old => (new URL(location.href).searchParams.get('point') || '') !== old",
        arg=old,
        timeout=timeout * 1000,
    )
    return url_point(page)
