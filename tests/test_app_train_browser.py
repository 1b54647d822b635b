"""Whose training job is whose, in a real Chromium: a browser keeps its jobs across a reload
(Streamlit's XSRF cookie survives it), and another browser sees them listed without Cancel."""

import pytest
from apptest import train_default_digits
from browser import chromium, require_browser, streamlit_server, wait_for_app_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]
VIEWPORT = {"width": 1200, "height": 1600}


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    require_browser()
    runs = tmp_path_factory.mktemp("runs")
    train_default_digits(runs)
    with streamlit_server("explorer/app.py", env={"LATENT_EXPLORER_RUNS": runs}) as url:
        yield url


def open_train_page(context, app_url):
    page = context.new_page()
    page.goto(f"{app_url}/train")
    wait_for_app_idle(page, timeout=60)
    return page


def test_a_reloaded_browser_can_cancel_its_job_and_another_browser_cannot(app_url):
    with chromium() as browser:
        mine = browser.new_context(viewport=VIEWPORT)
        page = open_train_page(mine, app_url)
        page.get_by_label("Epochs (0 = automatic)").fill("1000")
        page.get_by_role("button", name="Train").click()
        page.get_by_role("button", name="Cancel").wait_for(timeout=60_000)

        page.reload()  # a new Streamlit session: only the cookie is the same
        wait_for_app_idle(page, timeout=60)
        page.get_by_text("1000 epochs (yours)").wait_for(timeout=30_000)
        page.get_by_role("button", name="Cancel").wait_for(timeout=30_000)

        theirs = open_train_page(browser.new_context(viewport=VIEWPORT), app_url)
        theirs.get_by_text("1000 epochs (another session)").wait_for(timeout=30_000)
        assert theirs.get_by_role("button", name="Cancel").count() == 0

        page.get_by_role("button", name="Cancel").click()
        page.get_by_text("Cancelled; nothing was kept.").wait_for(timeout=30_000)
        theirs.get_by_text("Nothing is training right now.").wait_for(timeout=30_000)
        assert theirs.get_by_text("nothing was kept").count() == 0  # not their result

        cookie = next(c["value"] for c in mine.cookies() if c["name"] == "_streamlit_xsrf")
        for part in cookie.split("|")[1:3]:  # never shown: the owner id is a hash
            assert part not in page.content()
