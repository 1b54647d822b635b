"""Whose training job is whose, in a real Chromium: a browser keeps its jobs across a reload
(Streamlit's XSRF cookie survives it), and another browser sees them listed without Cancel;
the runs list follows the jobs (a finished run listed at once, a refusal gone with its job, a
deleted run gone from "Your results")."""

import re

import pytest
from browser import chromium, wait_for_app_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]
# app_url (the app on small default digits models, one server for the module), browser: conftest
VIEWPORT = {"width": 1200, "height": 1600}


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


def train(page, epochs: int) -> None:
    page.get_by_label("Epochs (0 = automatic)").fill(str(epochs))
    page.get_by_role("button", name="Train", exact=True).click()


def test_runs_are_listed_once_finished_told_apart_and_deleted_only_after_a_yes(app_url):
    with chromium() as browser:
        page = open_train_page(browser.new_context(viewport=VIEWPORT), app_url)
        delete = page.get_by_role("button", name="Delete", exact=True)
        for n in (1, 2):  # the same settings twice, most likely within one minute
            train(page, 2)
            delete.nth(n - 1).wait_for(timeout=60_000)  # listed without a reload
        named = page.get_by_test_id("stMarkdownContainer").filter(
            has_text=re.compile(r"^digits · mlp · 2-D · 2 epochs · beta 1 · ")
        )
        titles = named.all_inner_texts()
        assert len(titles) == 2 and titles[0] != titles[1]

        train(page, 1000)
        page.get_by_role("button", name="Cancel").wait_for(timeout=60_000)
        train(page, 1000)
        refusal = page.get_by_text("You already have a job training")
        refusal.wait_for(timeout=30_000)
        page.get_by_role("button", name="Cancel").click()
        refusal.wait_for(state="detached", timeout=30_000)  # gone with the job, no reload

        delete.first.click()
        page.get_by_role("button", name="Yes, delete").click()
        page.get_by_text("Finished, then deleted").wait_for(timeout=30_000)
        assert delete.count() == 1
        assert page.get_by_role("button", name="Open in the maps").count() == 1
