"""The beta dial in a real browser: moving the dial switches the map (its plotted points)."""

import pytest
from apptest import train_default_digits
from browser import served_app, wait_for_app_idle, wait_for_chart

from explorer.server import runs as runs_folder
from training.config import TrainConfig
from training.data import load_dataset
from training.ladder import DEFAULT_BETAS, train_ladder
from training.recipe import recipe

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KEY = "instrument_beta_dial"
MAP = f"{KEY}_map"


def train_models(runs):
    """Small default digits models and a quick ladder beside them (where the server looks: the
    runs folder is the server's)."""
    train_default_digits(runs)
    digits = load_dataset("digits")
    config = TrainConfig(epochs=5, batch_size=128, precision="fp32")
    model = recipe(digits).model
    train_ladder(digits, DEFAULT_BETAS, config, runs_folder.ladder_folder("digits"), model)


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, browser_cache):
    runs = tmp_path_factory.mktemp("runs")
    with served_app(runs=runs, cache=browser_cache, prepare=train_models) as url:
        yield url


@pytest.fixture
def page(browser, app_url):
    page = browser.new_page(viewport={"width": 1440, "height": 1200})
    page.goto(f"{app_url}/instruments?instrument=beta_dial")
    wait_for_chart(page, MAP, timeout=60)
    wait_for_app_idle(page)
    yield page
    page.close()


def plotted(page) -> dict:
    """The map's title and its first points, as Plotly drew them."""
    return page.evaluate(
        """key => {
            const gd = document.querySelector(`.st-key-${key} .js-plotly-plot`);
            return {title: gd._fullLayout.title.text.replace(/<[^>]*>/g, ''),  // Streamlit bolds it
                    x: Array.from(gd._fullData[0].x.slice(0, 20)),
                    y: Array.from(gd._fullData[0].y.slice(0, 20))};
        }""",
        MAP,
    )


def wait_for_title(page, text: str) -> None:
    page.wait_for_function(
        """([key, text]) => document.querySelector(`.st-key-${key} .js-plotly-plot`)
               ?._fullLayout?.title?.text?.replace(/<[^>]*>/g, '') === text""",
        arg=[MAP, text],
        timeout=30_000,
    )


def test_moving_the_dial_switches_the_map(page):
    before = plotted(page)
    assert before["title"] == "VAE latent space, beta = 1"
    thumb = page.locator(f".st-key-{KEY}_beta input[type=range]")
    thumb.focus()
    page.keyboard.press("ArrowRight")  # 1 -> 4
    wait_for_title(page, "VAE latent space, beta = 4")
    wait_for_app_idle(page)
    after = plotted(page)
    assert after["x"] != before["x"] and after["y"] != before["y"]
    for _ in range(3):
        page.keyboard.press("ArrowLeft")  # 4 -> 1 -> 0.1 -> 0, one rerun each
        wait_for_app_idle(page)
    wait_for_title(page, "VAE latent space, beta = 0")
    assert plotted(page)["x"] not in (before["x"], after["x"])
    # the table is drawn (a canvas grid: its marked row is checked in AppTest)
    assert page.locator('[data-testid="stDataFrame"]').count() == 1
