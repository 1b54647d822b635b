"""The real app in a real browser: maps, clicks on points and on empty space, sliders, a shared
URL, a training run whose models open in the maps, and a smile vector added to a face. (The
Explore page's live panel in depth, hover and keys: test_live_browser.py.)"""

import io
import re

import numpy as np
import pytest
from browser import (
    click_data_point,
    data_to_page,
    open_options,
    served_app,
    wait_for_app_idle,
    wait_for_chart,
)
from live_page import (
    canvases,
    drawn_rasters,
    figcaptions,
    open_explore,
    url_point,
    wait_for_figcaption,
    wait_for_new_canvases,
    wait_for_url_point_change,
)
from pairs import train_defaults
from PIL import Image
from sparklines import values

from explorer.core.display import SPARK_HEIGHT
from training import quality
from training.data import load_dataset

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def train_models(runs):
    """Default digits models (2-D MLPs) and faces models (32-D conv, a short run on 3,000
    faces)."""
    train_defaults(runs, load_dataset("digits"), epochs=20)
    train_defaults(runs, load_dataset("faces"), epochs=2, batch_size=64, first=3000)


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, browser_cache):
    runs = tmp_path_factory.mktemp("runs")
    with served_app(runs=runs, cache=browser_cache, prepare=train_models) as url:
        yield url


@pytest.fixture
def page(browser, app_url):
    page = open_explore(browser, app_url, size=(1400, 1800))
    yield page
    page.close()


def captions(page) -> list[str]:
    return page.locator('[data-testid="stImageCaption"]').all_inner_texts()


def wait_for_caption(page, text: str, timeout: float = 20.0) -> None:
    page.wait_for_function(
        "t => [...document.querySelectorAll('[data-testid=stImageCaption]')]"
        ".some(e => e.innerText.trim() === t)",
        arg=text,
        timeout=timeout * 1000,
    )


def wait_for_edit(page, timeout: float = 60.0) -> float:
    """The alpha a made vector's edit starts at (the VAE's group gap), once its images show."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stImageCaption]')]"
        ".some(e => /^VAE, alpha [+-]\\d/.test(e.innerText.trim()))",
        timeout=timeout * 1000,
    )
    edit = next(c for c in captions(page) if c.strip().startswith("VAE, alpha "))
    return float(edit.strip().removeprefix("VAE, alpha "))


def image_sources(page) -> list[str]:
    return page.locator('[data-testid="stImage"] img').evaluate_all("els => els.map(e => e.src)")


def point_of(page, key: str, index: int) -> tuple[float, float]:
    return tuple(
        page.evaluate(
            "([k, i]) => { const gd = document.querySelector(`.st-key-${k} .js-plotly-plot`);"
            " const d = gd._fullData[0]; return [d.x[i], d.y[i]]; }",
            [key, index],
        )
    )


def empty_spot(page, key: str, fx: float, fy: float) -> tuple[float, float]:
    """Data coordinates at fractions (fx, fy) of the chart's axis ranges."""
    return tuple(
        page.evaluate(
            "([k, fx, fy]) => { const l = document.querySelector(`.st-key-${k} .js-plotly-plot`)"
            "._fullLayout; const [x0, x1] = l.xaxis.range, [y0, y1] = l.yaxis.range;"
            " return [x0 + fx * (x1 - x0), y0 + fy * (y1 - y0)]; }",
            [key, fx, fy],
        )
    )


def test_the_app_opens_on_the_defaults_with_a_first_decoded_image(page):
    assert figcaptions(page) == [
        "AE reconstruction",
        "VAE reconstruction",
        "data point #0",
        "PCA, 2 components",
    ]


@pytest.mark.parametrize("key", ["map_ae", "map_vae"])
def test_clicking_a_data_point_shows_it_and_both_reconstructions(page, key):
    click_data_point(page, key, *point_of(page, key, 42))
    wait_for_figcaption(page, "data point #42")
    assert figcaptions(page) == [
        "AE reconstruction",
        "VAE reconstruction",
        "data point #42",
        "PCA, 2 components",
    ]
    wait_for_url_point_change(page, "i0")
    assert url_point(page) == "i42"


def test_clicking_empty_space_decodes_that_spot_and_the_decode_follows_the_position(page):
    click_data_point(page, "map_ae", *empty_spot(page, "map_ae", 0.97, 0.97))
    wait_for_figcaption(page, "AE decodes z")
    first = wait_for_url_point_change(page, "i0")
    wait_for_app_idle(page)
    shown, readout = canvases(page), page.locator(".lx-readout").inner_text()
    click_data_point(page, "map_ae", *empty_spot(page, "map_ae", 0.03, 0.5))
    wait_for_url_point_change(page, first)
    wait_for_app_idle(page)
    page.mouse.move(5, 5)  # off the map: the panel shows the pinned point, not a hovered one
    wait_for_new_canvases(page, shown)
    assert page.locator(".lx-readout").inner_text() != readout


def test_a_slider_moves_the_decode(page):
    before = canvases(page)
    slider = page.locator(".lx-sliders input[type=range]").first
    slider.focus()
    for _ in range(20):
        slider.press("ArrowRight")
    wait_for_figcaption(page, "AE decodes z")
    wait_for_new_canvases(page, before)
    assert wait_for_url_point_change(page, "i0").count(",") == 1
    wait_for_app_idle(page)


def axis_ranges(page, key: str) -> list[list[float]]:
    return page.evaluate(
        "k => { const l = document.querySelector(`.st-key-${k} .js-plotly-plot`)._fullLayout;"
        " return [l.xaxis.range.slice(), l.yaxis.range.slice()]; }",
        key,
    )


def point_in_view(page, key: str) -> int:
    """A data point of the chart whose pixel is inside the viewport as the page opens."""
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    for index in range(0, 1000, 7):
        px, py = data_to_page(page, key, *point_of(page, key, index))
        if 0 <= px < width and 60 <= py < height - 10:
            return index
    raise AssertionError(f"no point of {key} in view")


@pytest.mark.parametrize("size", [(1440, 900), (1280, 720)])
def test_a_clicks_images_appear_beside_the_maps_without_scrolling(browser, app_url, size):
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.goto(app_url)
    wait_for_chart(page, "map_vae", timeout=60)
    wait_for_app_idle(page)
    index = point_in_view(page, "map_vae")
    page.mouse.click(*data_to_page(page, "map_vae", *point_of(page, "map_vae", index)))
    wait_for_figcaption(page, f"data point #{index}")
    wait_for_app_idle(page)
    assert page.evaluate("() => window.scrollY") == 0
    # Both reconstructions, the data point and PCA's reconstruction, with their captions.
    assert in_view(page, ".lx-live canvas, .lx-live img, .lx-live figcaption") == [True] * 8
    page.close()


def test_a_zoom_has_a_visible_way_back_and_no_false_double_click_hint(page):
    before = axis_ranges(page, "map_ae")
    plot = page.locator(".st-key-map_ae .js-plotly-plot .nsewdrag").first.bounding_box()
    page.mouse.move(plot["x"] + plot["width"] * 0.3, plot["y"] + plot["height"] * 0.3)
    page.mouse.down()
    page.mouse.move(plot["x"] + plot["width"] * 0.6, plot["y"] + plot["height"] * 0.6, steps=8)
    page.mouse.up()
    page.wait_for_timeout(500)
    assert axis_ranges(page, "map_ae") != before
    assert "Double-click" not in page.locator("body").inner_text()  # Plotly's tip would lie
    page.locator('.st-key-map_ae .modebar-btn[data-title="Reset axes"]').click()
    page.wait_for_timeout(300)
    assert sum(axis_ranges(page, "map_ae"), []) == pytest.approx(sum(before, []))
    wait_for_app_idle(page)


def test_a_shared_url_restores_the_view(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.goto(f"{app_url}/?dataset=digits&models=default&point=i7")
    wait_for_figcaption(page, "data point #7", timeout=60)
    page.goto(f"{app_url}/?dataset=digits&models=default&point=0.25,-0.5")
    wait_for_figcaption(page, "VAE decodes z", timeout=60)
    values = page.locator(".lx-sliders input[type=range]").evaluate_all(
        "els => els.map(e => [+e.value, +e.step])"
    )
    assert [v for v, _ in values] == [
        pytest.approx(z, abs=s) for z, (_, s) in zip([0.25, -0.5], values, strict=True)
    ]
    page.close()


def test_a_short_training_run_finishes_and_its_models_open_in_the_maps(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.goto(f"{app_url}/train")
    wait_for_app_idle(page, timeout=60)
    page.get_by_label("Epochs (0 = automatic)").fill("3")  # Enter would submit the form too
    page.get_by_role("button", name="Train").click()
    page.get_by_role("button", name="Open in the maps").click(timeout=90_000)
    wait_for_chart(page, "map_vae", timeout=60)
    wait_for_app_idle(page)
    run_id = re.search(r"models=([\w-]+)", page.url).group(1)
    assert run_id not in ("default", "upload")
    sidebar = page.locator('[data-testid="stSidebar"]').inner_html()  # the picked value
    assert "mlp · 2-D · 3 epochs · " in sidebar and run_id not in sidebar  # named, not an id
    page.close()


def test_the_manifold_grid_follows_the_area_zoomed_on_the_map(page):
    page.evaluate(
        "() => Plotly.relayout(document.querySelector('.st-key-map_ae .js-plotly-plot'),"
        " {'xaxis.range': [-1, 1], 'yaxis.range': [-1, 1]})"
    )
    # The zoom reaches Python in a fragment rerun that may not have started yet: give it time.
    page.wait_for_timeout(1500)
    wait_for_app_idle(page)
    page.get_by_role("link", name="Generate").click()
    wait_for_caption(page, "AE decoded over the area visible on its map", timeout=60)
    # The VAE's map was not zoomed: its grid keeps the data's extent (captions appear in turn).
    wait_for_caption(page, "VAE decoded over the data's extent (1st-99th percentile)")
    assert "VAE decoded over the area visible on its map" not in captions(page)


def test_the_smile_vector_visibly_changes_the_decoded_face(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    page.goto(f"{app_url}/concepts?dataset=faces&models=default")
    page.get_by_role("button", name="Make the vector").click(timeout=90_000)
    alpha = wait_for_edit(page)
    assert 1.0 <= alpha <= 4.0  # the VAE's group gap, at least one spread
    wait_for_app_idle(page)
    shown = dict(zip(captions(page), image_sources(page), strict=False))
    for kind in ("AE", "VAE"):
        before = pixels(page, shown[f"{kind} reconstruction"])
        after = pixels(page, shown[f"{kind}, alpha {alpha:+.1f}"])
        assert before.shape == after.shape and before.shape[-1] == 3  # a colour face
        assert np.abs(after - before).mean() > 2.0, kind  # grey levels of 255, on average
    page.close()


def test_a_rising_vector_tilts_the_drawn_wave_upward(browser, app_url):
    # waves ship their GRU pair; the Concepts page starts on Spike (test_app_waves.py), the
    # user picks Rising
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    page.goto(f"{app_url}/concepts?dataset=waves&models=default")
    picker = page.locator(".st-key-concept_attribute")
    picker.wait_for(timeout=90_000)
    option = page.get_by_role("option", name="Rising")
    open_options(page, picker, option)
    option.click()
    wait_for_app_idle(page)
    page.get_by_role("button", name="Make the vector").click(timeout=90_000)
    alpha = wait_for_edit(page)
    wait_for_app_idle(page)
    shown = dict(zip(captions(page), image_sources(page), strict=False))
    for kind in ("AE", "VAE"):  # the drawn lines, read back: slope per step of the window
        before = values(pixels(page, shown[f"{kind} reconstruction"]))
        after = values(pixels(page, shown[f"{kind}, alpha {alpha:+.1f}"]))
        tilt = quality.slopes(after[None]) - quality.slopes(before[None])
        assert tilt[0] * len(before) > 0.2, kind  # the far end up by a fifth of the range
    # The live strips beside alpha (AE, VAE): -alpha, 0, +alpha, 1 px apart, each a line
    strips = drawn_rasters(page, (SPARK_HEIGHT, 3 * 129 - 1), count=2)
    assert len(strips) == 2
    for strip in strips:
        low, high = (values(strip[:, i * 129 : i * 129 + 128])[None] for i in (0, 2))
        assert (quality.slopes(high) - quality.slopes(low))[0] * 128 > 0.2
    page.close()


def in_view(page, selector: str) -> list[bool]:
    """For each element the selector matches: whether it lies wholly inside the viewport."""
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    boxes = page.locator(selector).evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return [r.left, r.top, r.right, r.bottom]; })"
    )
    return [x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height for x0, y0, x1, y1 in boxes]


@pytest.mark.parametrize("size", [(1440, 900), (1280, 720)])
def test_a_new_concept_vectors_edit_is_in_view_without_scrolling(browser, app_url, size):
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.goto(f"{app_url}/concepts?dataset=digits&models=default")
    page.get_by_role("button", name="Make the vector").click(timeout=90_000)
    alpha = wait_for_edit(page)
    # The live strips beside alpha's slider, from -alpha to +alpha in each model.
    wait_for_figcaption(page, f"VAE: alpha from {-alpha:+.1f} to {alpha:+.1f}")
    wait_for_app_idle(page)
    assert page.evaluate("() => window.scrollY") == 0
    shown = ".lx-live canvas, .lx-live figcaption, .lx-live input[type=range]"
    assert in_view(page, shown) == [True] * 5  # the slider and both models' strips
    page.close()


def test_the_concept_strips_move_while_alpha_is_dragged(browser, app_url):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    sent = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda _: sent.append(1)))
    page.goto(f"{app_url}/concepts?dataset=digits&models=default")
    page.get_by_role("button", name="Make the vector").click(timeout=90_000)
    alpha = wait_for_edit(page)
    wait_for_figcaption(page, f"VAE: alpha from {-alpha:+.1f} to {alpha:+.1f}", timeout=60)
    wait_for_app_idle(page)
    before, count = canvases(page), len(sent)
    box = page.locator(".lx-live input[type=range]").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * (alpha + 4) / 8, y)  # the thumb, on -4 .. 4
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.98, y, steps=5)
    wait_for_new_canvases(page, before)  # both strips moved, the button still down
    assert len(sent) == count  # nothing sent while dragging
    dragged = float(figcaptions(page)[1].rsplit(" to ", 1)[1])  # "VAE: alpha from -a to +a"
    assert dragged > alpha
    page.mouse.up()
    page.wait_for_function(  # Python's row of images follows the release
        "t => [...document.querySelectorAll('[data-testid=stImageCaption]')]"
        ".some(e => e.innerText.trim() === t)",
        arg=f"VAE, alpha {dragged:+.1f}",
        timeout=30_000,
    )
    page.close()


@pytest.mark.parametrize("size", [(1440, 900), (1280, 720)])
def test_a_started_training_job_is_listed_in_view_beside_the_form(browser, app_url, size):
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.goto(f"{app_url}/train")
    page.get_by_label("Epochs (0 = automatic)").fill("1000")
    page.get_by_role("button", name="Train").click()
    yours = page.get_by_text(re.compile(r"digits · mlp · 2-D · 1000 epochs \(yours\)"))
    yours.wait_for(timeout=30_000)
    box = yours.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= size[1]
    page.get_by_role("button", name="Cancel").first.click()
    page.get_by_text("nothing was kept").first.wait_for(timeout=30_000)
    page.close()


def pixels(page, src: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(page.request.get(src).body())), dtype=np.float64)


def lasso(page, chart_key: str, fx0: float, fx1: float) -> None:
    """Drag a lasso around the band from fx0 to fx1 of a chart's width, top to bottom."""
    box = page.locator(f".st-key-{chart_key} .js-plotly-plot .nsewdrag").first.bounding_box()
    corners = [(fx0, 0.05), (fx1, 0.05), (fx1, 0.95), (fx0, 0.95), (fx0, 0.06)]
    page.mouse.move(box["x"] + box["width"] * fx0, box["y"] + box["height"] * 0.05)
    page.mouse.down()
    for fx, fy in corners[1:]:
        page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy, steps=10)
    page.mouse.up()


def group_sizes(page) -> list[int]:
    texts = page.locator('[data-testid="stCaptionContainer"]').all_inner_texts()
    return [int(m[1]) for t in texts if (m := re.match(r"Group .*: (\d+) points", t))]


def test_two_groups_lassoed_on_the_map_make_a_vector(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 2000})
    page.goto(f"{app_url}/concepts?dataset=digits&models=default")
    page.get_by_text("two groups picked on the map").click(timeout=60_000)
    wait_for_chart(page, "pick_map", timeout=60)
    previous = None
    for (fx0, fx1), group in [((0.02, 0.45), "from (A)"), ((0.55, 0.98), "towards (B)")]:
        lasso(page, "pick_map", fx0, fx1)
        # The button names the selection's size once the rerun the lasso caused has ended.
        pattern = re.compile(rf"Use the (\d+) selected points as group {re.escape(group)}")
        page.wait_for_function(
            "([p, old]) => [...document.querySelectorAll('button')].some(b => {"
            " const m = b.innerText.match(new RegExp(p)); return m && +m[1] > 0 && m[1] !== old;"
            " })",
            arg=[pattern.pattern, previous],
            timeout=20_000,
        )
        button = page.get_by_role("button", name=pattern)
        previous = pattern.search(button.inner_text())[1]
        button.click()
        wait_for_app_idle(page)
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stCaptionContainer]')]"
        ".filter(e => /Group .*: [1-9]\\d* points/.test(e.innerText)).length === 2",
        timeout=20_000,
    )
    a, b = group_sizes(page)
    assert a > 10 and b > 10 and a + b <= 1797  # two disjoint bands of the 1,797 digits
    page.get_by_role("button", name="Make the vector").click()
    wait_for_edit(page)
    page.close()
