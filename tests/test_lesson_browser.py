"""The Lesson in a real browser: the arrow keys move between steps (not while a slider has the
focus), and presenter mode hides the sidebar and fades the view's controls until hovered."""

import pytest
from apptest import train_default_digits
from browser import chromium, require_browser, streamlit_server, wait_for_app_idle

from explorer.core.lesson import STEPS

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    require_browser()
    runs = tmp_path_factory.mktemp("runs")
    train_default_digits(runs)
    with streamlit_server("explorer/app.py", env={"LATENT_EXPLORER_RUNS": runs}) as url:
        yield url


@pytest.fixture(scope="module")
def browser(app_url):
    with chromium() as browser:
        yield browser


def open_lesson(browser, app_url, query: str):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{app_url}/lesson?{query}")
    page.wait_for_selector(".st-key-lesson_next button", timeout=60_000)
    wait_for_app_idle(page, 60)
    return page


def step_in_url(page) -> str:
    return page.evaluate("() => new URLSearchParams(location.search).get('lesson')")


def press(page, key: str, step: str) -> None:
    page.keyboard.press(key)
    page.wait_for_function(
        "s => new URLSearchParams(location.search).get('lesson') === s", arg=step, timeout=30_000
    )
    wait_for_app_idle(page, 60)


def test_arrow_keys_walk_through_the_lesson(browser, app_url):
    page = open_lesson(browser, app_url, "lesson=1")
    page.locator("h2").first.click()  # focus on the page, not on a control
    press(page, "ArrowRight", "2")
    assert "AE vs PCA" in page.locator("h2").first.inner_text()
    press(page, "ArrowRight", "3")
    press(page, "ArrowLeft", "2")
    page.keyboard.press("ArrowLeft")  # on to step 1, where the previous button is disabled
    page.wait_for_function("() => new URLSearchParams(location.search).get('lesson') === '1'")
    wait_for_app_idle(page, 60)
    page.keyboard.press("ArrowLeft")  # nothing before the first step
    wait_for_app_idle(page, 60)
    assert step_in_url(page) == "1"
    page.close()


def test_arrow_keys_in_a_radio_group_do_not_change_the_step(browser, app_url):
    page = open_lesson(browser, app_url, "lesson=2")
    page.get_by_text("They tie", exact=True).click()  # the radio group has the focus now
    wait_for_app_idle(page, 60)
    page.keyboard.press("ArrowRight")
    wait_for_app_idle(page, 60)
    assert step_in_url(page) == "2"
    page.close()


def test_presenter_mode_hides_the_sidebar_and_fades_controls_until_needed(browser, app_url):
    page = open_lesson(browser, app_url, "lesson=6&present=1")
    assert not page.locator("[data-testid='stSidebar']").is_visible()
    size = page.evaluate(
        "() => parseFloat(getComputedStyle(document.querySelector("
        "'[data-testid=\"stMainBlockContainer\"] p')).fontSize)"
    )
    assert size >= 22  # 1.5rem: large enough for the back of the room
    page.get_by_text("The VAE", exact=True).click()
    page.wait_for_selector(".st-key-lesson_view [data-testid='stNumberInput']", timeout=60_000)
    wait_for_app_idle(page, 60)
    control = page.locator(".st-key-lesson_view [data-testid='stElementContainer']").filter(
        has=page.locator("[data-testid='stNumberInput']")
    )
    page.mouse.move(5, 5)
    opacity = "e => getComputedStyle(e).opacity === '{}'"
    page.wait_for_function(opacity.format(0), arg=control.element_handle(), timeout=5_000)
    control.hover()  # the presenter reaches for it: it appears
    page.wait_for_function(opacity.format(1), arg=control.element_handle(), timeout=5_000)
    assert page.locator(".st-key-lesson_nav button").first.is_visible()  # the lesson's own stay
    # answered, the step's text and question fold away: its view fills the screen
    assert page.get_by_text(STEPS[5].text[:40]).count() == 0
    images = page.locator(".st-key-lesson_view [data-testid='stImage']")
    box = images.first.bounding_box()
    assert box["y"] + box["height"] <= 900  # in view at 1440x900, with no scrolling
    page.close()
