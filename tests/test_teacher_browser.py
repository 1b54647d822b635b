"""The teacher key in a real Chromium: entered once per browser session (a reload keeps it:
the owner id follows Streamlit's XSRF cookie), never for another browser, and a student's page
offers no training, no upload and no runs to delete."""

import pytest
from apptest import train_default_digits
from browser import chromium, served_app, unlock, wait_for_app_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]
VIEWPORT = {"width": 1440, "height": 900}
KEY = "owl-42 with spaces & <symbols>"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, browser_cache):
    runs = tmp_path_factory.mktemp("runs")
    with served_app(
        runs=runs, cache=browser_cache, teacher_key=KEY, prepare=train_default_digits
    ) as url:
        yield url


def open_page(context, url):
    page = context.new_page()
    page.goto(url)
    wait_for_app_idle(page, timeout=60)
    return page


def test_the_key_unlocks_training_for_this_browser_across_a_reload_and_no_other(app_url):
    with chromium() as browser:
        teacher = open_page(browser.new_context(viewport=VIEWPORT), f"{app_url}/train")
        teacher.get_by_text("Only the teacher can train models").wait_for(timeout=30_000)
        assert teacher.get_by_role("button", name="Train").count() == 0

        unlock(teacher, "not it")
        teacher.get_by_text("That is not the teacher key.").wait_for(timeout=30_000)
        unlock(teacher, KEY)
        teacher.get_by_role("button", name="Train").wait_for(timeout=30_000)
        assert KEY not in teacher.content()  # the key is never sent back to the page

        teacher.reload()  # a new Streamlit session in the same browser
        wait_for_app_idle(teacher, timeout=60)
        teacher.get_by_role("button", name="Train").wait_for(timeout=30_000)
        teacher.get_by_text("Runs on this server").wait_for(timeout=30_000)

        student = open_page(browser.new_context(viewport=VIEWPORT), f"{app_url}/train")
        student.get_by_text("Only the teacher can train models").wait_for(timeout=30_000)
        assert student.get_by_role("button", name="Train").count() == 0
        student.goto(f"{app_url}/?models=upload")
        wait_for_app_idle(student, timeout=60)
        student.get_by_text("Only the teacher can upload checkpoints").wait_for(timeout=30_000)
        assert student.locator("input[type=file]").count() == 0
