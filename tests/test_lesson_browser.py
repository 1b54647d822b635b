"""The Lesson in a real browser: the arrow keys move between steps, also from an answered
question's radio group, and never change an answer; presenter mode hides the sidebar and fades
the view's controls until hovered; step 6's two grids of prior samples fit the screen."""

import re

import pytest
from browser import wait_for_app_idle

from explorer.core.lesson import STEPS

pytestmark = [pytest.mark.browser, pytest.mark.slow]
# app_url (the app on small default digits models, one server for the module), browser: conftest


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


def checked_choice(page) -> str:
    """The label of the question's checked choice."""
    return page.evaluate(
        "() => document.querySelector('.st-key-lesson_choices input:checked').closest('label')"
        ".innerText"
    )


@pytest.mark.parametrize(
    ("number", "key", "back"), [(1, "ArrowRight", "ArrowLeft"), (2, "ArrowLeft", "ArrowRight")]
)
def test_arrow_keys_move_on_from_an_answered_question_and_keep_its_answer(
    browser, app_url, number, key, back
):
    question = STEPS[number - 1].question
    wrong = question.choices[(question.answer + 1) % len(question.choices)]
    page = open_lesson(browser, app_url, f"lesson={number}")
    # The click leaves the focus in the radio group; the key comes before the rerun is over,
    # when a browser's own radio would move the answer to the next choice.
    page.get_by_text(wrong, exact=True).click()
    press(page, key, str(number + (1 if key == "ArrowRight" else -1)))
    press(page, back, str(number))
    page.wait_for_selector(".st-key-lesson_view", timeout=60_000)
    assert checked_choice(page) == wrong
    alerts = page.locator("[data-testid='stAlert']")
    assert alerts.filter(has_text=re.compile(r"^Not quite")).count() == 1
    assert alerts.filter(has_text=re.compile(r"^Right\.")).count() == 0
    page.close()


def test_arrow_keys_in_an_unanswered_question_pick_a_choice_not_a_step(browser, app_url):
    page = open_lesson(browser, app_url, "lesson=2")
    page.focus(".st-key-lesson_choices input")  # a keyboard user tabs into the group
    page.keyboard.press("ArrowRight")  # the browser's radio: the next choice is the answer
    page.wait_for_selector(".st-key-lesson_view", timeout=60_000)
    wait_for_app_idle(page, 60)
    assert step_in_url(page) == "2"
    assert checked_choice(page) == STEPS[1].question.choices[1]
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


# Each prior grid (image and caption) as the page lays it out: its box, and whether the caption
# is cut (wider than its box) or outside the viewport.
PRIOR_GRIDS = """() => [...document.querySelectorAll(
    '.st-key-lesson_view [data-testid="stImage"]')].map(image => {
  const box = image.getBoundingClientRect();
  const caption = image.querySelector('[data-testid="stImageCaption"]');
  const shown = caption.getBoundingClientRect();
  return {left: box.left, top: box.top, right: box.right, bottom: box.bottom,
          cut: caption.scrollWidth > caption.clientWidth || caption.scrollHeight >
               caption.clientHeight,
          captionInView: shown.top >= 0 && shown.bottom <= innerHeight && shown.left >= 0 &&
                         shown.right <= innerWidth};
})"""


@pytest.mark.parametrize("present", ["", "&present=1"])
@pytest.mark.parametrize(("width", "height"), [(1440, 900), (1280, 720), (390, 844)])
def test_prior_samples_show_both_grids_whole_and_apart(browser, app_url, width, height, present):
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(f"{app_url}/lesson?lesson=6{present}")
    page.get_by_text("The VAE", exact=True).click(timeout=60_000)
    page.wait_for_selector(".st-key-lesson_view [data-testid='stImage'] img", timeout=120_000)
    wait_for_app_idle(page, 60)
    ae, vae = page.evaluate(PRIOR_GRIDS)
    apart = ae["right"] <= vae["left"] or ae["bottom"] <= vae["top"]
    assert apart, (ae, vae)
    for grid in (ae, vae):
        assert not grid["cut"] and grid["left"] >= 0 and grid["right"] <= width, grid
    if width > 390:  # side by side below the question, both in view without scrolling
        assert ae["top"] == vae["top"] and ae["captionInView"] and vae["captionInView"]
        assert max(ae["bottom"], vae["bottom"]) <= height
    page.close()
