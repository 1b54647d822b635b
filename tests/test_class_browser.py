"""A class in real Chromium: students' answers reach the teacher's tally without a reload, the
teacher's reveal opens the view on a student's phone without a reload, "bring everyone to this
step" moves the students; a drawing, encoded in the browser as it is drawn, lands on both maps,
and once sent on the teacher's class map, without a reload."""

import re
import time

import pytest
from apptest import train_default_digits
from browser import new_context, served_app, unlock, wait_for_app_idle

from explorer.core.lesson import STEPS

pytestmark = [pytest.mark.browser, pytest.mark.slow]
KEY = "owl-42"
QUESTION = STEPS[0].question
RIGHT = QUESTION.choices[QUESTION.answer]
WRONG = QUESTION.choices[(QUESTION.answer + 1) % len(QUESTION.choices)]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, browser_cache):
    runs = tmp_path_factory.mktemp("runs")
    with served_app(
        runs=runs, cache=browser_cache, teacher_key=KEY, prepare=train_default_digits
    ) as url:
        yield url


def lesson_page(browser, url: str, step: int, **screen):
    page = new_context(browser, **screen).new_page()
    page.goto(f"{url}/lesson?lesson={step}")
    wait_for_app_idle(page, timeout=60)
    return page


def test_answers_reach_the_teachers_tally_and_the_reveal_reaches_a_phone(browser, app_url):
    teacher = lesson_page(browser, app_url, 1)
    unlock(teacher, KEY)
    tally = teacher.locator("[data-testid='stPlotlyChart']").first
    tally.wait_for(timeout=30_000)
    assert "0 of 0 have answered" in tally.inner_text()

    laptop = lesson_page(browser, app_url, 1, width=1280, height=720)
    phone = lesson_page(browser, app_url, 1, width=390, height=844, touch=True)
    laptop.get_by_text(RIGHT).click()
    phone.get_by_text(WRONG).tap()
    wait_for_app_idle(phone)
    started = time.monotonic()
    # the teacher's page is not reloaded: its fragment redraws the tally every second
    teacher.get_by_text(re.compile("2 of 2 have answered")).wait_for(timeout=5_000)
    assert time.monotonic() - started < 3.0
    assert phone.get_by_text("Your answer is in").is_visible()
    assert phone.get_by_text("Not quite").count() == 0  # no verdict before the reveal

    teacher.get_by_role("button", name="Reveal the answer to the class").click()
    wait_for_app_idle(teacher)
    teacher.get_by_text("1 of 2 answered it right").wait_for(timeout=10_000)
    phone.get_by_text("Not quite").wait_for(timeout=6_000)  # without a reload or a tap
    laptop.get_by_text(re.compile("^Right\\.")).wait_for(timeout=6_000)

    students_step = laptop.get_by_role("heading", name=STEPS[0].title)
    assert students_step.is_visible()
    teacher.goto(f"{app_url}/lesson?lesson=3")
    wait_for_app_idle(teacher)
    teacher.get_by_role("button", name="Bring everyone to this step").click()
    laptop.get_by_role("heading", name=STEPS[2].title).wait_for(timeout=6_000)
    phone.get_by_role("heading", name=STEPS[2].title).wait_for(timeout=6_000)


def draw_a_seven(page) -> None:
    pad = page.locator("canvas.lx-draw-pad")
    pad.wait_for(timeout=30_000)
    box = pad.bounding_box()
    at = lambda u, v: (box["x"] + u * box["width"], box["y"] + v * box["height"])  # noqa: E731
    page.mouse.move(*at(0.25, 0.2))
    page.mouse.down()
    page.mouse.move(*at(0.75, 0.2), steps=10)
    page.mouse.move(*at(0.45, 0.85), steps=10)
    page.mouse.up()


def test_a_drawing_lands_on_both_maps_and_on_the_teachers_class_map(browser, app_url):
    teacher = new_context(browser).new_page()
    teacher.goto(f"{app_url}/?dataset=digits")
    wait_for_app_idle(teacher, timeout=60)
    unlock(teacher, KEY)
    teacher.get_by_text("0 drawings on digits").wait_for(timeout=30_000)

    student = new_context(browser).new_page()
    student.goto(f"{app_url}/?dataset=digits")
    wait_for_app_idle(student, timeout=60)
    student.get_by_text("Draw an input").click()
    student.locator(".lx-draw-recon").first.wait_for(timeout=30_000)
    time.sleep(0.5)  # the empty pad encoded: its reconstructions drawn, and no ring yet
    assert student.locator(".lx-drawn-point:not([hidden])").count() == 0
    draw_a_seven(student)
    # encoded in the browser as it is drawn: a ringed point on both maps, inside each plot
    points = student.locator(".lx-drawn-point:not([hidden])")
    points.nth(1).wait_for(timeout=10_000)
    assert points.count() == 2
    codes = student.locator("canvas.lx-draw-pad").get_attribute("data-codes")
    assert '"ae"' in codes and '"vae"' in codes
    for name in ("map_ae", "map_vae"):
        plot = student.locator(f".st-key-{name} .js-plotly-plot").bounding_box()
        ring = student.locator(f".st-key-{name} .lx-drawn-point").bounding_box()
        assert plot["x"] < ring["x"] < plot["x"] + plot["width"]
        assert plot["y"] < ring["y"] < plot["y"] + plot["height"]

    student.locator("button.lx-draw-send").click()
    # the teacher's class map, redrawn every 2 s: no reload
    teacher.get_by_text("1 drawing on digits").wait_for(timeout=8_000)
    teacher.get_by_role("button", name="Clear the class map").click()
    teacher.get_by_text("0 drawings on digits").wait_for(timeout=8_000)
