"""The Explore page on a phone, in a real Chromium at 390x844 with touch (explorer/web/phone.js):
one map at a time with an AE | VAE toggle, a finger dragged over it decodes into a loupe in view
and pins where it lifts, a strip beside the map scrolls the page, and the hint names a finger.
A wide screen keeps both maps side by side. (The desktop panel: tests/test_live_browser.py.)"""

from __future__ import annotations

import pytest
from browser import data_to_page, new_context, wait_for_app_idle, wait_for_chart
from live_page import canvases, open_explore, wait_for_url_point_change
from test_live_browser import empty_spot, spot, view

pytestmark = [pytest.mark.browser, pytest.mark.slow]
# app_url (the app on small default digits models, one server for the module), browser: conftest

PHONE = {"width": 390, "height": 844}
MAPS = ["map_ae", "map_vae"]
LOUPE = ".st-key-{} .lx-loupe"
SCROLLER = '[data-testid="stMain"]'  # Streamlit scrolls this element, not the window
LOUPE_CANVASES = "s => [...document.querySelectorAll(s + ' canvas')].map(c => c.toDataURL())"


@pytest.fixture(scope="module")
def phone_context(browser):
    context = new_context(browser, PHONE["width"], PHONE["height"], touch=True)
    yield context
    context.close()


@pytest.fixture
def phone(phone_context, app_url):
    page = open_explore(phone_context, app_url, charts=["map_ae"])  # one map at a time
    yield page
    page.close()


@pytest.fixture
def desktop(browser, app_url):
    context = new_context(browser, 1440, 900)
    yield open_explore(context, app_url, charts=[])
    context.close()


def touch(page, kind: str, xy: tuple[float, float] | None = None) -> None:
    """One touch event (touchStart, touchMove, touchEnd) through Chromium's DevTools protocol:
    Playwright's own touchscreen only taps."""
    if not hasattr(page, "cdp"):
        page.cdp = page.context.new_cdp_session(page)
    points = [{"x": xy[0], "y": xy[1]}] if xy else []
    page.cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})
    page.wait_for_timeout(20)  # a finger's pace: the page sees each move


def next_frame(page) -> None:
    # Headless Chromium hands a lifted finger's pointerup to the page at its next frame.
    page.evaluate("() => new Promise(r => requestAnimationFrame(r))")


def swipe(page, start: tuple[float, float], end: tuple[float, float], steps: int = 8) -> None:
    """A finger from start to end, still down at the end."""
    touch(page, "touchStart", start)
    for i in range(1, steps + 1):
        xy = tuple(a + (b - a) * i / steps for a, b in zip(start, end, strict=True))
        touch(page, "touchMove", xy)


def box(page, selector: str) -> dict | None:
    return page.locator(selector).first.bounding_box()


def in_view(rect: dict, viewport: dict = PHONE) -> bool:
    x0, y0 = rect["x"], rect["y"]
    x1, y1 = x0 + rect["width"], y0 + rect["height"]
    return 0 <= x0 < x1 <= viewport["width"] and 0 <= y0 < y1 <= viewport["height"]


def shown_maps(page) -> list[str]:
    return [key for key in MAPS if box(page, f".st-key-{key} .js-plotly-plot")]


def legend(page, key: str) -> str:
    """The orientation of a map's legend: "v" beside it, "h" under it."""
    script = "k => document.querySelector(`.st-key-${k} .js-plotly-plot`)._fullLayout.legend"
    return page.evaluate(script + ".orientation", key)


def scroll_top(page) -> float:
    return page.evaluate("s => document.querySelector(s).scrollTop", SCROLLER)


def test_a_finger_dragged_over_the_map_decodes_into_a_loupe_in_view_and_pins_where_it_lifts(
    phone,
):
    assert shown_maps(phone) == ["map_ae"]
    phone.locator(".st-key-map_ae .js-plotly-plot").scroll_into_view_if_needed()
    loupe = LOUPE.format("map_ae")
    pinned, panel, sent, top = (
        phone.evaluate(LOUPE_CANVASES, loupe),
        canvases(phone),
        len(phone.sent),
        scroll_top(phone),
    )
    assert pinned == panel  # the AE's and the VAE's images, as the panel shows them
    start = data_to_page(phone, "map_ae", *spot(phone, "map_ae", 0.3, 0.7))
    end_xy = empty_spot(phone, "map_ae", near=(0.7, 0.3))
    swipe(phone, start, data_to_page(phone, "map_ae", *end_xy))
    # While the finger is down: the loupe shows what it decodes, in view; nothing went to the
    # server and the page did not scroll.
    phone.wait_for_function(
        "([s, old]) => [...document.querySelectorAll(s + ' canvas')]"
        ".every((c, i) => c.toDataURL() !== old[i])",
        arg=[loupe, pinned],
        timeout=5000,
    )
    assert in_view(box(phone, loupe))
    assert canvases(phone) != panel  # the panel below follows too
    assert len(phone.sent) == sent and scroll_top(phone) == top
    touch(phone, "touchEnd")
    next_frame(phone)
    point = [float(v) for v in wait_for_url_point_change(phone, "i0").split(",")]
    (x0, x1), (y0, y1) = view(phone, "map_ae")
    assert point == pytest.approx(end_xy, abs=0.02 * max(x1 - x0, y1 - y0))  # where it lifted
    wait_for_app_idle(phone)
    assert scroll_top(phone) == top


def test_a_tap_pins_a_point_once(phone):
    phone.locator(".st-key-map_ae .js-plotly-plot").scroll_into_view_if_needed()
    x, y = empty_spot(phone, "map_ae", near=(0.3, 0.3))
    sent = len(phone.sent)
    phone.touchscreen.tap(*data_to_page(phone, "map_ae", x, y))
    next_frame(phone)
    point = [float(v) for v in wait_for_url_point_change(phone, "i0").split(",")]
    (x0, x1), _ = view(phone, "map_ae")
    assert point == pytest.approx([x, y], abs=0.02 * (x1 - x0))
    wait_for_app_idle(phone)
    phone.wait_for_timeout(1000)  # Plotly's own click after a touch would come by now
    assert len(phone.sent) == sent + 1  # one rerun: Plotly's click after the touch is ignored


def test_the_toggle_shows_one_map_at_a_time_and_the_strip_beside_it_scrolls_the_page(phone):
    phone.locator(".st-key-map_ae .lx-map-toggle [data-chart=map_vae]").tap()
    phone.wait_for_function(
        "() => !document.querySelector('.st-key-map_ae .js-plotly-plot')"
        ".getBoundingClientRect().width"
    )
    assert shown_maps(phone) == ["map_vae"]
    chart = box(phone, ".st-key-map_vae .js-plotly-plot")
    assert chart["width"] > 250  # drawn at its column's width, not collapsed while hidden
    pressed = ".st-key-map_vae .lx-map-toggle button[aria-pressed=true]"
    assert phone.locator(pressed).inner_text() == "VAE"
    assert legend(phone, "map_vae") == "h"  # under the map: beside it, it took a third of it
    # The strip beside the map: a finger swiped up on it scrolls the page.
    phone.locator(".st-key-map_vae .js-plotly-plot").scroll_into_view_if_needed()
    top = scroll_top(phone)
    strip_x = chart["x"] + chart["width"] + 20
    assert strip_x < PHONE["width"] - 10
    chart = box(phone, ".st-key-map_vae .js-plotly-plot")
    middle = chart["y"] + chart["height"] / 2
    swipe(phone, (strip_x, middle + 150), (strip_x, middle - 150))
    touch(phone, "touchEnd")
    phone.wait_for_function(
        "([s, top]) => document.querySelector(s).scrollTop > top + 100",
        arg=[SCROLLER, top],
        timeout=5000,
    )
    phone.locator(".st-key-map_vae .lx-map-toggle [data-chart=map_ae]").tap()
    phone.wait_for_function(
        "() => document.querySelector('.st-key-map_ae .js-plotly-plot')"
        ".getBoundingClientRect().width > 250"
    )
    assert shown_maps(phone) == ["map_ae"]


def test_the_hint_says_drag_a_finger_on_a_touch_screen(phone):
    assert phone.get_by_text("Drag a finger over a map").is_visible()
    assert not phone.get_by_text("Move the mouse over a map").is_visible()


def test_a_wide_screen_keeps_both_maps_side_by_side_and_no_phone_controls(desktop):
    for key in MAPS:
        wait_for_chart(desktop, key)
    ae, vae = (box(desktop, f".st-key-{key} .js-plotly-plot") for key in MAPS)
    assert vae["x"] >= ae["x"] + ae["width"] - 1 and vae["y"] == pytest.approx(ae["y"], abs=1)
    assert ae["width"] == pytest.approx(vae["width"], abs=1) and ae["width"] > 250
    for selector in [".lx-map-toggle", ".lx-loupe"]:
        assert not any(e.is_visible() for e in desktop.locator(selector).all())
    assert [legend(desktop, key) for key in MAPS] == ["v", "v"]  # beside the maps, as drawn
    assert desktop.get_by_text("Move the mouse over a map").is_visible()
    assert not desktop.get_by_text("Drag a finger over a map").is_visible()
