"""The training time-lapse in a real browser: the figure's Play button animates both maps and
the loss curves' cursor (Plotly frames, in the browser), and Pause stops it."""

import re
import time

import pytest
from browser import browser_context, served_app, wait_for_app_idle, wait_for_chart
from pairs import train_defaults

from training.data import load_dataset

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHART = "instrument_timelapse_figure"
PLOT = f".st-key-{CHART} .js-plotly-plot"


def train_models(runs):
    """Default digits models that carry their time-lapse."""
    train_defaults(runs, load_dataset("digits"), epochs=10)


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, browser_cache):
    runs = tmp_path_factory.mktemp("runs")
    with served_app(runs=runs, cache=browser_cache, prepare=train_models) as url:
        yield url


@pytest.fixture(scope="module")
def context(app_url):
    with browser_context(1440, 900) as context:
        yield context


def chart_state(page) -> dict:
    """The slider's current frame, the AE map's first point and the cursor's step."""
    return page.evaluate(
        """plot => {
            const gd = document.querySelector(plot);
            return {active: gd._fullLayout.sliders[0].active,
                    n_frames: gd._transitionData._frames.length,
                    point: [gd._fullData[0].x[0], gd._fullData[0].y[0]],
                    cursor: gd._fullData[2].x[0]};
        }""",
        PLOT,
    )


def press(page, label: str) -> None:
    """Click the figure's button labelled exactly label (e.g. "▶ Play")."""
    page.locator(f"{PLOT} .updatemenu-button").filter(has_text=re.compile(f"^{label}$")).click()


def test_play_animates_the_maps_and_the_cursor_and_pause_stops_them(context, app_url):
    page = context.new_page()
    page.goto(f"{app_url}/instruments?instrument=timelapse")
    wait_for_chart(page, CHART, timeout=60)
    wait_for_app_idle(page)
    before = chart_state(page)
    assert before["active"] == 0 and before["cursor"] == 0 and before["n_frames"] > 3
    assert None not in before["point"]
    press(page, "▶ Play")
    page.wait_for_function(
        "plot => document.querySelector(plot)._fullLayout.sliders[0].active >= 3",
        arg=PLOT,
        timeout=15_000,
    )
    press(page, "❚❚ Pause")
    paused = chart_state(page)
    assert paused["point"] != before["point"]  # the codes moved on the map
    assert paused["cursor"] > 0  # and the cursor along the curves
    time.sleep(1)  # several frames' time: a paused animation stays where it is
    assert chart_state(page)["active"] == paused["active"]
    page.close()
