"""Hostile names in a real browser: a data folder whose name and attribute names are HTML,
Markdown links and emphasis that would set window.__xss if anything rendered them as markup.
The Explore page (caption, map legends) and the Concepts page (a vector made from such an
attribute: its caption, histograms and report) show them as text and run none of them."""

from __future__ import annotations

import pytest
from browser import open_options, served_app, wait_for_app_idle, wait_for_chart
from pairs import train_defaults
from test_security import hostile_folder

from training.data import load_dataset

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FOLDER = "<img src=x onerror=\"window.__xss='folder'\">"
NAMES = [
    "<img src=x onerror=\"window.__xss='attribute'\">",
    "[click](javascript:window.__xss='link')",
    "<a href=\"javascript:window.__xss='a'\">a</a> **bold** <b>b</b> $x^2$",
]
# Anything the hostile names would create if rendered: an image, a link, emphasis or math.
MARKUP = "main img[src='x'], main a[href^='javascript'], main strong, main b, main .katex"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, browser_cache):
    """The app serving a folder dataset of 12 images with hostile names, with small default
    models trained on it (1 epoch), so that its pages open at once."""
    data = hostile_folder(tmp_path_factory.mktemp("data") / FOLDER, NAMES)
    runs = tmp_path_factory.mktemp("runs")

    def train(runs):
        train_defaults(runs, load_dataset("folder", data), epochs=1, batch_size=16)

    with served_app(runs=runs, cache=browser_cache, data=data, prepare=train) as url:
        yield url


def own_markup(page) -> list[str]:
    """The outer HTML of any element in the page's main area that a name could have made: the
    app's own markup (its bold words, a name set in bold as a whole) never holds these parts."""
    found = page.locator(MARKUP).evaluate_all("els => els.map(e => [e.outerHTML, e.textContent])")
    parts = ("__xss", "x^2", "bold")
    return [html for html, text in found if any(p in html for p in parts) and text not in NAMES]


def test_hostile_names_on_the_explore_page_show_as_text_and_run_nothing(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(f"{app_url}/?dataset=folder&models=default")
    wait_for_chart(page, "map_ae", timeout=90)
    wait_for_app_idle(page)
    text = page.locator("main").inner_text()
    assert f"from {FOLDER}/" in text  # the folder's name, in the caption, as written
    legend = page.locator(".st-key-map_ae .legendtext").all_text_contents()
    assert legend == [f"not {NAMES[0]}", NAMES[0]]
    assert page.evaluate("window.__xss") is None
    assert own_markup(page) == []
    page.close()


@pytest.mark.parametrize("name", NAMES)
def test_a_vector_made_from_a_hostile_attribute_shows_its_name_as_text(browser, app_url, name):
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    page.goto(f"{app_url}/concepts?dataset=folder&models=default")
    picker = page.locator(".st-key-concept_attribute")
    picker.wait_for(timeout=90_000)
    option = page.get_by_role("option").nth(NAMES.index(name))  # the CSV's column order
    open_options(page, picker, option)
    assert option.text_content() == name  # an option is plain text
    option.click()
    wait_for_app_idle(page)
    page.get_by_role("button", name="Make the vector").click()
    wait_for_chart(page, "hist_vae", timeout=60)
    wait_for_app_idle(page)
    text = page.locator("main").inner_text()
    assert f"{name}: from not {name} towards {name}" in text  # the report's caption
    legends = page.locator(".st-key-hist_vae .legendtext").all_text_contents()
    assert legends == [f"not {name}", name]
    assert page.evaluate("window.__xss") is None
    assert own_markup(page) == []
    page.close()
