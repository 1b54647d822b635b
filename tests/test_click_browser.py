"""The click listener in a real Chromium, on tests/apps/click_demo.py: points, empty space, marker,
zoom, both charts. (What Python accepts from the browser: tests/test_click.py; the click's
latency: benchmarks/app_latency.py.)"""

from __future__ import annotations

import json

import numpy as np
import pytest
from browser import (
    browser_context,
    click_data_point,
    data_to_page,
    served_app,
    wait_for_app_idle,
    wait_for_chart,
)

DEMO = "tests/apps/click_demo.py"
CHARTS = ["map_a", "map_b"]
POINTS = np.random.default_rng(0).normal(size=(200, 2))  # the demo's points, same seed
MARKER = "latent-click-marker"
CLICK_TIMEOUT_MS = 15_000  # a click's rerun on a loaded 2-core CI machine


# -- the demo app in Chromium ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_url(browser_cache):
    with served_app(DEMO, cache=browser_cache) as url:
        yield url


@pytest.fixture(scope="module")
def context(app_url):
    with browser_context(1400, 900) as context:
        yield context


@pytest.fixture
def page(context, app_url):
    """A fresh session of the demo (each page is its own session), charts drawn and listened to."""
    page = context.new_page()
    open_demo(page, app_url, CHARTS)
    yield page
    page.close()


def open_demo(page, url: str, chart_keys: list[str]) -> None:
    page.goto(url)
    for key in chart_keys:
        wait_for_chart(page, key)
        wait_for_listener(page, key)
    wait_for_app_idle(page)


def wait_for_listener(page, chart_key: str) -> None:
    """Wait until the listener has attached to the chart (it marks the graph div)."""
    page.wait_for_function(
        "key => document.querySelector(`.st-key-${key} .js-plotly-plot`)"
        "?.dataset.latentClick === key",
        arg=chart_key,
    )


def shown_click(page) -> dict | None:
    return json.loads(page.locator('[data-testid="stCode"] code').inner_text())


def wait_for_shown_seq_above(page, seq: int) -> None:
    page.wait_for_function(
        """seq => {
            const text = document.querySelector('[data-testid="stCode"] code')?.innerText;
            try { return (JSON.parse(text)?.seq ?? 0) > seq; } catch { return false; }
        }""",
        arg=seq,
        timeout=CLICK_TIMEOUT_MS,
    )


def click_and_wait(page, chart_key: str, x: float, y: float) -> dict:
    """Click at data (x, y), wait for the rerun that prints the new click, return that click."""
    before = shown_click(page)
    click_data_point(page, chart_key, x, y)
    wait_for_shown_seq_above(page, 0 if before is None else before["seq"])
    wait_for_app_idle(page)
    return shown_click(page)


def pixels_of_points(page, chart_key: str) -> np.ndarray:
    """(N, 2) page pixels of trace 0's points."""
    return np.array(
        page.evaluate(
            """key => {
                const gd = document.querySelector(`.st-key-${key} .js-plotly-plot`);
                const {xaxis, yaxis} = gd._fullLayout;
                const box = gd.getBoundingClientRect();
                const {x, y} = gd._fullData[0];
                return Array.from(x, (_, i) => [box.left + xaxis._offset + xaxis.l2p(x[i]),
                                                box.top + yaxis._offset + yaxis.l2p(y[i])]);
            }""",
            chart_key,
        )
    )


def empty_spots(page, chart_key: str, n: int) -> list[tuple[float, float]]:
    """n data points where a click lands on the plot's drag layer (not the modebar), each at least
    30 px from every point (hover reaches 20 px + the marker radius) and 40 px from each other."""
    page.locator(f".st-key-{chart_key} .js-plotly-plot").scroll_into_view_if_needed()
    grid = page.evaluate(
        """key => {
            const gd = document.querySelector(`.st-key-${key} .js-plotly-plot`);
            const {xaxis, yaxis} = gd._fullLayout;
            const box = gd.getBoundingClientRect();
            const spots = [];
            for (let px = 5; px < xaxis._length - 5; px += 8) {
                for (let py = 5; py < yaxis._length - 5; py += 8) {
                    const left = box.left + xaxis._offset + px, top = box.top + yaxis._offset + py;
                    const target = document.elementFromPoint(left, top);
                    if (gd.contains(target) && target.classList.contains('nsewdrag'))
                        spots.push([xaxis.p2d(px), yaxis.p2d(py), left, top]);
                }
            }
            return spots;
        }""",
        chart_key,
    )
    candidates, pixels = np.array(grid)[:, :2], np.array(grid)[:, 2:]
    points = pixels_of_points(page, chart_key)
    clearance = np.linalg.norm(pixels[:, None] - points[None], axis=2).min(axis=1)
    spots: list[int] = []
    for i in np.argsort(-clearance, kind="stable"):
        if clearance[i] < 30:
            break
        if all(np.linalg.norm(pixels[i] - pixels[j]) >= 40 for j in spots):
            spots.append(i)
        if len(spots) == n:
            return [tuple(candidates[i]) for i in spots]
    raise AssertionError(f"found {len(spots)} of {n} empty spots on {chart_key}")


def marker_on(page, chart_key: str) -> dict:
    """The marker's data anchor (from gd.layout.shapes) and the drawn cross's pixel centre."""
    return page.evaluate(
        """([key, name]) => {
            const gd = document.querySelector(`.st-key-${key} .js-plotly-plot`);
            const ours = (gd.layout.shapes || []).filter(s => s.name === name);
            const drawn = [...gd.querySelectorAll('.shapelayer path')]
                .map(p => p.getBoundingClientRect()).filter(r => r.width + r.height > 0);
            const middle = (low, high) =>
                (Math.min(...drawn.map(low)) + Math.max(...drawn.map(high))) / 2;
            return {anchors: ours.map(s => [s.xanchor, s.yanchor]), n_drawn: drawn.length,
                    centre: [middle(r => r.left, r => r.right), middle(r => r.top, r => r.bottom)]};
        }""",
        [chart_key, MARKER],
    )


def ranges(page, chart_key: str) -> list[list[float]]:
    return page.evaluate(
        """key => {
            const gd = document.querySelector(`.st-key-${key} .js-plotly-plot`);
            return [gd._fullLayout.xaxis.range, gd._fullLayout.yaxis.range];
        }""",
        chart_key,
    )


def isolated_point(page, chart_key: str) -> int:
    """Index of a point with no other point within 20 px, so a click on it can hit only it."""
    pixels = pixels_of_points(page, chart_key)
    distance = np.linalg.norm(pixels[:, None] - pixels[None], axis=2)
    np.fill_diagonal(distance, np.inf)
    return int(np.flatnonzero(distance.min(axis=1) > 20)[0])


@pytest.mark.browser
def test_page_starts_without_a_click_and_the_listener_takes_no_space(page):
    assert shown_click(page) is None
    box = page.locator(".st-key-latent_click").bounding_box()  # None: not displayed at all
    assert box is None or box["height"] == 0
    # Nothing, not even a flex gap, above the next element of the fragment.
    code_top = page.locator('[data-testid="stCode"]').bounding_box()["y"]
    block_top = page.evaluate(
        "() => document.querySelector('.st-key-latent_click').parentElement"
        ".getBoundingClientRect().top"
    )
    assert code_top == pytest.approx(block_top, abs=0.5)


@pytest.mark.browser
@pytest.mark.parametrize("chart_key", CHARTS)  # Scattergl, then SVG Scatter
def test_clicking_a_point_reports_its_index_and_exact_coordinates(page, chart_key):
    i = isolated_point(page, chart_key)
    click = click_and_wait(page, chart_key, *POINTS[i])
    assert click == {
        "chart": chart_key,
        "x": POINTS[i, 0],
        "y": POINTS[i, 1],
        "point_index": i,
        "seq": 1,
    }


@pytest.mark.browser
def test_clicking_empty_space_reports_the_data_coordinates_clicked(page):
    (x, y), *_ = empty_spots(page, "map_a", 1)
    clicked = data_to_page(page, "map_a", x, y)
    click = click_and_wait(page, "map_a", x, y)
    assert click["chart"] == "map_a"
    assert click["point_index"] is None
    # Within a pixel of the spot clicked (the mouse lands on whole or half pixels).
    reported = data_to_page(page, "map_a", click["x"], click["y"])
    assert np.allclose(reported, clicked, atol=1.0), (reported, clicked)


@pytest.mark.browser
def test_two_empty_clicks_give_different_coordinates_and_growing_seq(page):
    first_spot, second_spot = empty_spots(page, "map_a", 2)
    first = click_and_wait(page, "map_a", *first_spot)
    second = click_and_wait(page, "map_a", *second_spot)
    assert (first["x"], first["y"]) != (second["x"], second["y"])
    assert first["point_index"] is None and second["point_index"] is None
    assert second["seq"] > first["seq"]


@pytest.mark.browser
def test_the_marker_appears_on_both_charts_where_clicked(page):
    (x, y), *_ = empty_spots(page, "map_a", 1)
    click = click_and_wait(page, "map_a", x, y)
    for key in CHARTS:
        marker = marker_on(page, key)
        assert marker["anchors"] == [[click["x"], click["y"]]] * 2, key
        assert marker["n_drawn"] == 2, key
        assert np.allclose(marker["centre"], data_to_page(page, key, x, y), atol=1.5), key


@pytest.mark.browser
def test_a_click_reruns_only_the_fragment(page):
    full_runs = page.get_by_text("full runs:").inner_text()
    (x, y), *_ = empty_spots(page, "map_b", 1)
    click_and_wait(page, "map_b", x, y)
    assert page.get_by_text("full runs:").inner_text() == full_runs


@pytest.mark.browser
def test_zoom_survives_a_click_and_a_full_rerun(page):
    page.evaluate(
        """key => Plotly.relayout(document.querySelector(`.st-key-${key} .js-plotly-plot`),
                                  {'xaxis.range': [-1.5, 1.0], 'yaxis.range': [-1.0, 1.5]})""",
        "map_a",
    )
    zoomed = ranges(page, "map_a")
    assert zoomed == [[-1.5, 1.0], [-1.0, 1.5]]
    (x, y), *_ = empty_spots(page, "map_a", 1)
    click = click_and_wait(page, "map_a", x, y)
    assert ranges(page, "map_a") == zoomed
    # A full rerun (the "r" shortcut) re-renders the charts: zoom and marker must stay.
    full_runs = page.get_by_text("full runs:").inner_text()
    page.locator("body").press("r")
    page.wait_for_function(
        "before => ![...document.querySelectorAll('[data-testid=stText]')]"
        ".some(e => e.innerText === before)",
        arg=full_runs,
    )
    wait_for_app_idle(page)
    assert ranges(page, "map_a") == zoomed
    assert marker_on(page, "map_a")["anchors"] == [[click["x"], click["y"]]] * 2


@pytest.mark.browser
def test_clicking_the_second_chart_reports_it(page):
    (x, y), *_ = empty_spots(page, "map_b", 1)
    click = click_and_wait(page, "map_b", x, y)
    assert click["chart"] == "map_b"
    assert click["point_index"] is None


@pytest.mark.browser
def test_a_chart_plotted_anew_is_listened_to_again(page):
    # Plotly.newPlot purges the div's event listeners, as a re-created chart would have none.
    page.evaluate(
        """async () => {
            const gd = document.querySelector('.st-key-map_a .js-plotly-plot');
            delete gd.dataset.latentClick;
            await Plotly.newPlot(gd, gd.data, gd.layout, gd._context);
        }"""
    )
    wait_for_listener(page, "map_a")
    (x, y), *_ = empty_spots(page, "map_a", 1)
    click = click_and_wait(page, "map_a", x, y)
    assert click["chart"] == "map_a" and click["seq"] == 1


@pytest.mark.browser
def test_a_chart_drawn_after_the_listener_is_picked_up(context, app_url):
    page = context.new_page()
    try:
        open_demo(page, f"{app_url}/?late=1", ["map_a"])  # map_b is not on the page yet
        (x, y), *_ = empty_spots(page, "map_a", 1)
        first = click_and_wait(page, "map_a", x, y)
        wait_for_chart(page, "map_b")
        wait_for_listener(page, "map_b")
        page.wait_for_function(
            "name => document.querySelector('.st-key-map_b .js-plotly-plot')"
            ".layout.shapes?.some(s => s.name === name)",
            arg=MARKER,
        )
        assert marker_on(page, "map_b")["anchors"] == [[first["x"], first["y"]]] * 2
        (x, y), *_ = empty_spots(page, "map_b", 1)
        second = click_and_wait(page, "map_b", x, y)
        assert second["chart"] == "map_b" and second["seq"] == first["seq"] + 1
    finally:
        page.close()


@pytest.mark.browser
def test_ten_quick_clicks_on_both_charts_each_arrive_in_order(page):
    pixels = {
        key: [data_to_page(page, key, *xy) for xy in empty_spots(page, key, 5)] for key in CHARTS
    }
    for i in range(10):
        key = CHARTS[i % 2]
        page.mouse.click(*pixels[key][i // 2])
        wait_for_shown_seq_above(page, i)
        wait_for_app_idle(page)
        assert shown_click(page)["seq"] == i + 1 and shown_click(page)["chart"] == key
