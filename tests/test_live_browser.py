"""The Explore page's live decode panel in a real Chromium: hover decodes both models with no
server round trip, a slider drag decodes before release, a click and arrow keys pin a point
(the URL follows), the 32-D faces decode on hover, and the server decodes when the browser
cannot. (The panel's data as Python sends it: tests/test_app.py; the decoder's math against
torch: tests/test_decoder_js.py.)"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from apptest import train_default_digits
from browser import (
    REPO_ROOT,
    browser_context,
    data_to_page,
    require_browser,
    served_app,
    wait_for_app_idle,
    wait_for_chart,
)
from live_page import (
    PANEL,
    canvas_rasters,
    canvases,
    figcaptions,
    open_explore,
    settled_canvases,
    url_point,
    wait_for_figcaption,
    wait_for_new_canvases,
    wait_for_url_point_change,
)
from sparklines import values

from explorer.core.display import SPARK_HEIGHT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MAPS = ["map_ae", "map_vae"]
KEY_STEP = 1 / 40  # live.js: an arrow key moves the point by this share of the visible axis
# Quick faces models, trained in a subprocess while the digits tests run (apptest.py).
TRAIN_FACES = (
    "import sys, torch; torch.set_num_threads(1); sys.path.insert(0, 'tests');"
    " from pathlib import Path; from apptest import train_small_faces;"
    " train_small_faces(Path(sys.argv[1]))"
)
# Makes every decoder the browser loads end in an op it does not know, so that its first decode
# throws: the page must then say so and decode on the server. (Wraps JSON.parse, which reads
# the weights' header: {"id", "dtype", "models": {kind: {"ops": [...]}}}.)
BREAK_DECODING = """(() => {
  const parse = JSON.parse;
  JSON.parse = function (...args) {
    const value = parse.apply(this, args);
    if (value && typeof value === "object" && value.id && value.dtype && value.models) {
      for (const model of Object.values(value.models)) model.ops.push({ op: "bogus" });
    }
    return value;
  };
})();"""


@pytest.fixture(scope="module")
def server(tmp_path_factory, browser_cache):
    """The app on a runs folder with small default digits models; faces models are trained in
    a subprocess meanwhile (faces_url waits for them). Yields (url, faces process, its log).
    (Its own fixture, not served_app's prepare alone: the faces train beside the server.)"""
    require_browser()
    runs = tmp_path_factory.mktemp("runs")
    log = tmp_path_factory.mktemp("faces") / "train.log"
    with log.open("w") as out:
        env = {**os.environ, "LATENT_EXPLORER_CACHE": str(browser_cache), "OMP_NUM_THREADS": "1"}
        command = [sys.executable, "-c", TRAIN_FACES, str(runs)]
        faces = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=out, stderr=out)
        try:
            with served_app(runs=runs, cache=browser_cache, prepare=train_default_digits) as url:
                yield url, faces, log
        finally:
            if faces.poll() is None:
                faces.kill()
            faces.wait()


@pytest.fixture(scope="module")
def app_url(server):
    return server[0]


@pytest.fixture(scope="module")
def faces_url(server):
    """The app's URL once the faces models are trained."""
    url, faces, log = server
    faces.wait(timeout=180)
    assert faces.returncode == 0, log.read_text(errors="replace")[-3000:]
    return f"{url}/?dataset=faces"


@pytest.fixture(scope="module")
def context(app_url):
    with browser_context(1440, 900) as context:
        yield context


@pytest.fixture
def page(context, app_url):
    page = open_explore(context, app_url)
    yield page
    page.close()


def coordinates(point: str) -> list[float]:
    return [float(v) for v in point.split(",")]


def script_state(page) -> str:
    return page.evaluate(
        "() => document.querySelector('[data-testid=stApp]').dataset.testScriptState"
    )


def view(page, key: str) -> tuple[list[float], list[float]]:
    return tuple(
        page.evaluate(
            "k => { const l = document.querySelector(`.st-key-${k} .js-plotly-plot`)._fullLayout;"
            " return [l.xaxis.range.map(Number), l.yaxis.range.map(Number)]; }",
            key,
        )
    )


def spot(page, key: str, fx: float, fy: float) -> tuple[float, float]:
    """Data coordinates at fractions (fx, fy) of a map's visible axis ranges."""
    (x0, x1), (y0, y1) = view(page, key)
    return x0 + fx * (x1 - x0), y0 + fy * (y1 - y0)


def empty_spot(page, key: str, near: tuple[float, float] = (0.5, 0.5)) -> tuple[float, float]:
    """Data coordinates of a spot of a map, near fractions `near` of its axes, at least 30 px
    from every data point (a click there hits no point)."""
    return tuple(
        page.evaluate(
            """([k, [nx, ny]]) => {
            const gd = document.querySelector(`.st-key-${k} .js-plotly-plot`);
            const {xaxis, yaxis} = gd._fullLayout, d = gd._fullData[0];
            const px = [...d.x].map(v => xaxis.d2p(v)), py = [...d.y].map(v => yaxis.d2p(v));
            const spots = [];
            for (let i = 1; i < 10; i++) for (let j = 1; j < 10; j++) spots.push([i / 10, j / 10]);
            const off = ([fx, fy]) => Math.hypot(fx - nx, fy - ny);
            spots.sort((a, b) => off(a) - off(b));
            for (const [fx, fy] of spots) {
                const x = fx * xaxis._length, y = (1 - fy) * yaxis._length;
                if (px.every((p, i) => Math.hypot(p - x, py[i] - y) > 30))
                    return [xaxis.p2d(x), yaxis.p2d(y)];
            }
            throw new Error(`no empty spot on ${k}`);
        }""",
            [key, near],
        )
    )


def isolated_point(page, key: str) -> tuple[int, float, float]:
    """(index, x, y) of the data point of a map farthest (in pixels) from its nearest neighbour
    among the first 400: a click on it hits that point and no other."""
    return tuple(
        page.evaluate(
            """k => {
            const gd = document.querySelector(`.st-key-${k} .js-plotly-plot`);
            const {xaxis, yaxis} = gd._fullLayout, d = gd._fullData[0];
            const n = Math.min(400, d.x.length);
            const px = [...d.x].map(v => xaxis.d2p(v)), py = [...d.y].map(v => yaxis.d2p(v));
            let best = [-1, 0];
            for (let i = 0; i < n; i++) {
                let nearest = Infinity;
                for (let j = 0; j < px.length; j++) {
                    const far = Math.hypot(px[j] - px[i], py[j] - py[i]);
                    if (j !== i) nearest = Math.min(nearest, far);
                }
                if (nearest > best[1]) best = [i, nearest];
            }
            return [best[0], d.x[best[0]], d.y[best[0]]];
        }""",
            key,
        )
    )


def hover_crosses(page, keys: list[str] = MAPS) -> dict[str, list[float] | None]:
    """Per map: the hover cross's centre in page pixels, or None where it is hidden or absent."""
    return page.evaluate(
        """keys => Object.fromEntries(keys.map(k => {
            const c = document.querySelector(`.st-key-${k} .js-plotly-plot > .lx-hover-cross`);
            if (!c || c.hidden) return [k, null];
            const r = c.getBoundingClientRect();
            return [k, [r.left + r.width / 2, r.top + r.height / 2]];
        }))""",
        keys,
    )


def markers(page, key: str) -> list[list[float]]:
    return page.evaluate(
        "k => document.querySelector(`.st-key-${k} .js-plotly-plot`).layout.shapes"
        ".filter(s => s.name === 'latent-click-marker').map(s => [s.xanchor, s.yanchor])",
        key,
    )


# ---- hover, sliders, clicks and keys on the digits maps ----


def test_hovering_the_vae_map_decodes_both_models_in_the_browser_with_a_cross_on_both_maps(page):
    pinned = canvases(page)
    assert figcaptions(page) == [
        "AE reconstruction",
        "VAE reconstruction",
        "data point #0",
        "PCA, 2 components",
    ]
    sent, reruns = len(page.sent), page.evaluate("() => window.latentExplorerStats.reruns")
    seen = []
    for fx, fy in [(0.3, 0.7), (0.7, 0.3)]:
        px, py = data_to_page(page, "map_vae", *spot(page, "map_vae", fx, fy))
        page.mouse.move(px, py, steps=4)
        seen.append(wait_for_new_canvases(page, seen[-1] if seen else pinned))
        assert script_state(page) == "notRunning"
        crosses = hover_crosses(page)
        # The same z on both maps: the VAE's cross under the pointer, the AE's at the same
        # coordinates of its own map (2-D codes, one scale for both maps).
        assert crosses["map_vae"] == pytest.approx([px, py], abs=1.5)
        ax, ay = data_to_page(page, "map_ae", *spot(page, "map_vae", fx, fy))
        assert crosses["map_ae"] == pytest.approx([ax, ay], abs=1.5)
    assert figcaptions(page) == [
        "AE decodes z",
        "VAE decodes z",
        "data point #0",
        "PCA, 2 components",
    ]
    assert all(a != b for a, b in zip(seen[0], pinned, strict=True))  # both models follow
    assert all(a != b for a, b in zip(seen[1], seen[0], strict=True))
    assert len(page.sent) == sent  # no rerun: not one message to the server
    assert page.evaluate("() => window.latentExplorerStats.reruns") == reruns
    page.mouse.move(5, 5)  # off the map: back to the pinned point, crosses gone
    page.wait_for_function(
        "old => [...document.querySelectorAll('.lx-live canvas')]"
        ".every((e, i) => e.toDataURL() === old[i])",
        arg=pinned,
        timeout=5000,
    )
    assert hover_crosses(page) == {"map_ae": None, "map_vae": None}
    assert figcaptions(page) == [
        "AE reconstruction",
        "VAE reconstruction",
        "data point #0",
        "PCA, 2 components",
    ]
    assert len(page.sent) == sent and url_point(page) == "i0"


def test_a_slider_drag_decodes_before_release_and_the_url_follows_on_release(page):
    slider = page.locator(".lx-sliders input[type=range]").first
    low, high, value = (float(v) for v in slider.evaluate("e => [e.min, e.max, e.value]"))
    box = slider.bounding_box()
    # The thumb's centre: Chromium's track runs from half a thumb (16 px) in at each end.
    x = box["x"] + 8 + (value - low) / (high - low) * (box["width"] - 16)
    y = box["y"] + box["height"] / 2
    before, sent = canvases(page), len(page.sent)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + box["width"] / 3, y, steps=6)
    wait_for_new_canvases(page, before)
    dragged = float(slider.evaluate("e => e.value"))
    assert dragged > value
    assert len(page.sent) == sent and url_point(page) == "i0"  # nothing sent while held
    assert figcaptions(page)[:2] == ["AE decodes z", "VAE decodes z"]
    page.mouse.up()
    point = coordinates(wait_for_url_point_change(page, "i0"))
    assert point[0] == pytest.approx(dragged, abs=1e-3 * (high - low))
    assert len(page.sent) > sent
    wait_for_app_idle(page)
    assert float(slider.evaluate("e => e.value")) == pytest.approx(dragged)


def test_a_click_on_empty_space_pins_it_moves_the_marker_and_updates_the_url(page):
    x, y = empty_spot(page, "map_ae", near=(0.85, 0.15))
    page.mouse.click(*data_to_page(page, "map_ae", x, y))
    clicked = coordinates(wait_for_url_point_change(page, "i0"))
    (x0, x1), (y0, y1) = view(page, "map_ae")
    assert clicked == pytest.approx([x, y], abs=0.01 * max(x1 - x0, y1 - y0))  # a pixel's worth
    wait_for_app_idle(page)
    for key in MAPS:  # 2-D codes: one z is at the same spot on both maps
        assert markers(page, key) == [pytest.approx(clicked, abs=1e-3)] * 2
    wait_for_figcaption(page, "AE decodes z")
    assert page.locator(".lx-readout").inner_text().startswith("z = (")


def test_a_click_on_a_data_point_shows_it_and_both_reconstructions(page):
    index, x, y = isolated_point(page, "map_ae")
    page.mouse.click(*data_to_page(page, "map_ae", x, y))
    wait_for_figcaption(page, f"data point #{index}")
    assert url_point(page) == f"i{index}"
    assert figcaptions(page) == [
        "AE reconstruction",
        "VAE reconstruction",
        f"data point #{index}",
        "PCA, 2 components",
    ]
    wait_for_app_idle(page)
    # Each map marks the point at its own code: on the AE map, where it was clicked.
    assert markers(page, "map_ae") == [pytest.approx([x, y], abs=1e-6)] * 2


def test_arrow_keys_nudge_the_point_and_the_url_follows_once_they_rest(page):
    x, y = empty_spot(page, "map_ae")
    page.mouse.click(*data_to_page(page, "map_ae", x, y))
    start = coordinates(wait_for_url_point_change(page, "i0"))
    wait_for_app_idle(page)
    sent = len(page.sent)
    before = canvases(page)
    for key in ["ArrowRight"] * 3 + ["ArrowUp"] * 2:  # the pointer rests over the map
        page.keyboard.press(key)
    crosses = hover_crosses(page)
    assert crosses["map_ae"] is not None and crosses["map_vae"] is not None
    moved = coordinates(wait_for_url_point_change(page, url_point(page)))
    assert len(page.sent) == sent + 1  # one point, once the keys rested
    (x0, x1), (y0, y1) = view(page, "map_ae")
    assert moved[0] - start[0] == pytest.approx(3 * KEY_STEP * (x1 - x0), rel=0.01)
    assert moved[1] - start[1] == pytest.approx(2 * KEY_STEP * (y1 - y0), rel=0.01)
    assert canvases(page) != before
    wait_for_app_idle(page)
    assert markers(page, "map_vae") == [pytest.approx(moved, abs=1e-3)] * 2


def test_keys_after_a_slider_drag_move_the_clicked_point_not_the_sliders_old_value(page):
    """A slider keeps the keyboard focus after it is used (a click on a Plotly map does not
    take it): it must still show the point pinned since, and keys over a map nudge that point."""
    slider = page.locator(".lx-sliders input[type=range]").first
    box = slider.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2)
    wait_for_url_point_change(page, "i0")
    wait_for_app_idle(page)
    x, y = empty_spot(page, "map_ae", near=(0.3, 0.3))
    page.mouse.click(*data_to_page(page, "map_ae", x, y))
    wait_for_figcaption(page, "AE decodes z")
    page.wait_for_function(
        "xy => { const p = new URL(location.href).searchParams.get('point');"
        " return p && Math.abs(+p.split(',')[0] - xy[0]) < 0.1; }",
        arg=[x, y],
        timeout=15_000,
    )
    clicked = coordinates(url_point(page))
    wait_for_app_idle(page)
    page.wait_for_function(  # the slider shows the new pin (drawn at the next frame)
        "x => { const e = document.querySelector('.lx-sliders input[type=range]');"
        " return Math.abs(+e.value - x) <= +e.step + 1e-3; }",
        arg=clicked[0],
        timeout=5000,
    )
    page.mouse.move(*data_to_page(page, "map_ae", *spot(page, "map_ae", 0.6, 0.4)))
    page.keyboard.press("ArrowRight")
    moved = coordinates(wait_for_url_point_change(page, url_point(page)))
    (x0, x1), _ = view(page, "map_ae")
    assert moved[1] == pytest.approx(clicked[1], abs=1e-3)  # not the hovered spot's
    assert moved[0] - clicked[0] == pytest.approx(KEY_STEP * (x1 - x0), abs=2e-3)  # a nudge


# ---- where it shows, the 32-D faces, and the server when the browser cannot ----


@pytest.mark.parametrize("size", [(1440, 900), (1280, 720)])
def test_the_panels_images_are_in_view_beside_the_maps_after_load(context, app_url, size):
    page = open_explore(context, app_url, size=size)
    assert page.evaluate("() => window.scrollY") == 0
    boxes = page.locator(".lx-live canvas, .lx-live img, .lx-live figcaption").evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return [r.left, r.top, r.right, r.bottom]; })"
    )
    assert len(boxes) == 8  # AE, VAE, the data point and PCA, each with its caption
    for x0, y0, x1, y1 in boxes:
        assert 0 <= x0 < x1 <= size[0] and 0 <= y0 < y1 <= size[1], (x0, y0, x1, y1)
    maps = page.locator(".st-key-map_vae .js-plotly-plot").bounding_box()
    panel = page.locator(PANEL).bounding_box()
    assert panel["x"] >= maps["x"] + maps["width"] - 1  # beside the maps, not below them
    page.close()


def test_the_32d_faces_maps_decode_on_hover(context, faces_url):
    page = open_explore(context, faces_url, timeout=120)
    assert figcaptions(page)[:2] == ["AE reconstruction", "VAE reconstruction"]
    assert page.evaluate(
        "() => [...document.querySelectorAll('.lx-live canvas')].map(c => [c.width, c.height])"
    ) == [[64, 64], [64, 64]]
    sent = len(page.sent)
    previous = canvases(page)
    for key, fx, fy in [("map_vae", 0.3, 0.6), ("map_ae", 0.7, 0.4)]:
        px, py = data_to_page(page, key, *spot(page, key, fx, fy))
        page.mouse.move(px, py, steps=3)
        previous = wait_for_new_canvases(page, previous)
        assert hover_crosses(page)[key] == pytest.approx([px, py], abs=1.5)
    assert figcaptions(page)[:2] == ["AE decodes z", "VAE decodes z"]
    assert len(page.sent) == sent and script_state(page) == "notRunning"
    page.close()


def test_hovering_the_waves_maps_draws_the_decoded_signals_as_lines(context, app_url):
    # waves ship their GRU pair: it opens at once, decoded by the browser's GRU cells
    page = open_explore(context, f"{app_url}/?dataset=waves", timeout=60)
    sizes = [r.shape for r in canvas_rasters(page)[:2]]
    assert sizes == [(SPARK_HEIGHT, 128)] * 2  # AE and VAE: a sparkline each
    sent, previous = len(page.sent), canvases(page)
    lines = []
    for key, fx, fy in [("map_vae", 0.25, 0.5), ("map_vae", 0.75, 0.5), ("map_ae", 0.5, 0.2)]:
        px, py = data_to_page(page, key, *spot(page, key, fx, fy))
        page.mouse.move(px, py, steps=3)
        previous = wait_for_new_canvases(page, previous)
        lines.append([values(r) for r in canvas_rasters(page)[:2]])  # 128 samples each
    for a, b in zip(lines, lines[1:], strict=False):  # each hover drew other signals
        assert all(np.abs(x - y).max() > 0.05 for x, y in zip(a, b, strict=True))
    assert figcaptions(page)[:2] == ["AE decodes z", "VAE decodes z"]
    assert len(page.sent) == sent and script_state(page) == "notRunning"
    page.close()


def test_when_the_browser_cannot_decode_the_server_does_and_says_so_in_one_line(context, app_url):
    page = context.new_page()
    page.add_init_script(BREAK_DECODING)
    page.goto(app_url)
    note = page.get_by_text("Decoding on the server")
    note.wait_for(timeout=60_000)
    wait_for_app_idle(page)
    assert note.all_inner_texts() == [
        "Decoding on the server: the browser could not decode (unknown op bogus)."
    ]
    captions = page.locator('[data-testid="stImageCaption"]')
    captions.nth(3).wait_for(timeout=10_000)
    assert captions.all_inner_texts() == [
        "data point #0",
        "AE reconstruction",
        "VAE reconstruction",
        "PCA, 2 components",
    ]
    assert page.locator('[data-testid="stSlider"]').count() == 2
    # No stale live panel shows beside the server's images (its element is clipped away).
    assert page.evaluate(
        "() => [...document.querySelectorAll('.lx-live canvas')].every(c => {"
        " const r = c.getBoundingClientRect();"
        " const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);"
        " return r.width === 0 || !top?.closest('.lx-live'); })"
    )
    # The session stays on the server: a slider's move decodes there.
    page.locator('[data-testid="stSlider"] input[type="range"]').first.focus()
    page.keyboard.press("ArrowRight")
    captions.get_by_text("AE decodes z", exact=True).wait_for()
    assert note.count() == 1
    page.close()


def test_the_manifold_grid_follows_zoom_and_pan_in_the_browser(page):
    """The panel's grid: 10 x 10 decodes of each map's visible area, redrawn after a zoom by
    the browser itself (the zoom's view report to Python is the only message)."""
    page.locator(".lx-grid-toggle input").check()
    size = page.evaluate(
        "() => [...document.querySelectorAll('.lx-live canvas')].map(c => [c.width, c.height])"
    )
    assert size == [[10 * 9 - 1, 10 * 9 - 1]] * 2  # 8x8 digits with 1 px gaps
    before = settled_canvases(page)
    sent = len(page.sent)
    # Zoom by dragging a box on the VAE map: its grid is redrawn over the new area.
    x0, y0 = data_to_page(page, "map_vae", *spot(page, "map_vae", 0.3, 0.7))
    x1, y1 = data_to_page(page, "map_vae", *spot(page, "map_vae", 0.6, 0.4))
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=6)
    page.mouse.up()
    page.wait_for_function(
        "old => document.querySelectorAll('.lx-live canvas')[1].toDataURL() !== old[1]",
        arg=before,
        timeout=5000,
    )
    assert canvases(page)[0] == before[0]  # the AE map was not zoomed: its grid stays
    assert len(page.sent) - sent <= 1  # at most the view report (for the Generate page)
    assert figcaptions(page)[:2] == ["AE over the visible area", "VAE over the visible area"]
    page.locator(".lx-grid-toggle input").uncheck()
    page.wait_for_function("() => document.querySelector('.lx-live canvas').width === 8")


def test_hovering_the_pca_map_decodes_pca_alone(page):
    page.get_by_text("Show PCA beside them").click()
    wait_for_chart(page, "map_pca")
    wait_for_app_idle(page)
    page.wait_for_function(
        "() => document.querySelectorAll('.lx-live figure:not([hidden]) canvas').length === 3"
    )
    page.mouse.move(5, 5)
    page.wait_for_timeout(300)  # any redraw of the pinned point is done
    before = canvases(page)
    px, py = data_to_page(page, "map_pca", *spot(page, "map_pca", 0.4, 0.6))
    page.mouse.move(px, py)  # one move, straight onto the PCA map
    page.wait_for_function(
        "old => document.querySelectorAll('.lx-live canvas')[2].toDataURL() !== old[2]",
        arg=before,
        timeout=5000,
    )
    after = canvases(page)
    assert after[:2] == before[:2]  # PCA's map is not the models' latent space
    crosses = hover_crosses(page, [*MAPS, "map_pca"])
    assert crosses["map_pca"] == pytest.approx([px, py], abs=1.5)
    assert crosses["map_ae"] is None and crosses["map_vae"] is None
