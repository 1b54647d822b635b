"""The default models in a real browser: a fresh server opens on faces with the shipped pair and
decodes at once; a dataset that cannot ship shows a labelled preview, then the full pair,
swapped in without a reload, with the pinned point kept and no exception."""

import re
import time

import pytest
from browser import browser_context, require_browser, streamlit_server, wait_for_app_idle
from live_page import canvases, url_point, wait_for_panel
from test_app_default_models import small_image_folder

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PREVIEW = "Preview models."


def assert_no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0


def test_a_fresh_server_opens_faces_with_the_shipped_pair(tmp_path, browser_cache):
    require_browser()
    env = {
        "LATENT_EXPLORER_RUNS": tmp_path / "runs",
        "LATENT_EXPLORER_CACHE": browser_cache,
        "LATENT_EXPLORER_DATASET": "",
    }
    with streamlit_server("explorer/app.py", env=env) as url, browser_context(1440, 900) as ctx:
        page = ctx.new_page()
        page.goto(url)
        wait_for_panel(page, timeout=120)
        assert "dataset=faces" in page.url
        assert len(canvases(page)) >= 2  # the AE's and the VAE's decodes
        assert page.get_by_text(PREVIEW).count() == 0
        assert_no_exception(page)
        assert (tmp_path / "runs" / "default" / "faces" / "manifest.json").is_file()


def test_the_preview_is_labelled_then_the_full_pair_replaces_it_keeping_the_point(
    tmp_path, browser_cache
):
    require_browser()
    env = {
        "LATENT_EXPLORER_RUNS": tmp_path / "runs",
        "LATENT_EXPLORER_CACHE": browser_cache,
        "LATENT_EXPLORER_DATA": small_image_folder(tmp_path / "photos"),
        "LATENT_EXPLORER_DATASET": "folder",
    }
    with streamlit_server("explorer/app.py", env=env) as url, browser_context(1440, 900) as ctx:
        page = ctx.new_page()
        page.goto(f"{url}/?point=i5")
        label = page.get_by_text(PREVIEW)
        label.wait_for(timeout=120_000)  # the preview trained, and the page swapped to it
        wait_for_panel(page, timeout=60)
        assert label.is_visible()  # above the page, in view without the sidebar
        assert page.get_by_text(re.compile(r"full models \d+%, ")).count() == 1
        assert url_point(page) == "i5"
        assert_no_exception(page)

        deadline = time.monotonic() + 300
        while label.count() and time.monotonic() < deadline:  # swapped without a reload
            page.wait_for_timeout(500)
        assert label.count() == 0, "the full pair never replaced the preview"
        wait_for_app_idle(page, timeout=60)
        wait_for_panel(page, timeout=60)
        assert url_point(page) == "i5"
        assert (tmp_path / "runs" / "default" / "folder" / "vae.safetensors").is_file()
        assert_no_exception(page)
