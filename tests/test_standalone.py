"""The standalone page (explorer/web/standalone.py) without a browser: it loads nothing from the
network, carries the pair's weights and the app's own module, draws the Explore page's maps, and
its scripts cannot be cut short by the data. tests/test_standalone_browser.py opens it."""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import re
from html.parser import HTMLParser

import pytest
from plotly.offline import get_plotlyjs

from explorer.core import figures
from explorer.core.model_pair import build_pair
from explorer.core.points import Point
from explorer.web import modules, standalone, web_decoder
from training.data import load_dataset
from training.models import build_model
from training.presets import default_model_config

DATA_OPEN = '<script type="application/json" id="lx-data">'


@pytest.fixture(scope="module")
def pair():
    digits = load_dataset("digits")
    models = [
        build_model(default_model_config(digits.image_shape, kind), seed=n)
        for n, kind in enumerate(("ae", "vae"))
    ]
    return build_pair(digits, *models, "test pair", max_points=400)


def page_of(pair, with_pca=False, **options) -> str:
    point = Point(tuple(pair.codes["vae"][3]), 3)
    return standalone.standalone_html(pair, point, [0, 1], with_pca, **options).decode()


def data_of(page: str) -> dict:
    start = page.index(DATA_OPEN) + len(DATA_OPEN)
    return json.loads(page[start : page.index("</script>", start)])


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags_of(page: str) -> list[tuple[str, dict]]:
    parser = Tags()
    parser.feed(page)
    return parser.tags


@pytest.mark.parametrize("with_pca", [False, True])
def test_the_page_loads_nothing_from_the_network(pair, with_pca):
    page = page_of(pair, with_pca)
    tags = tags_of(page)
    assert not [t for t, _ in tags if t in ("link", "iframe", "img", "object", "embed")]
    for tag, attrs in tags:
        assert "src" not in attrs and "href" not in attrs, (tag, attrs)
    assert [attrs.get("type") for tag, attrs in tags if tag == "script"] == [
        None,
        "application/json",
        "module",
    ]
    # Plotly inline, from the installed package: its text holds URLs (map tiles, licences) that
    # only map traces would fetch. Everything else, ours, names no address at all.
    plotly_js = get_plotlyjs()
    assert page.count(plotly_js) == 1
    ours = page.replace(plotly_js, "")
    assert not re.search(r"https?:|//cdn", ours, re.IGNORECASE)
    assert "url(" not in ours  # CSS
    assert "import(" not in ours and "fetch(" not in ours


def test_it_carries_the_weights_and_the_apps_own_module(pair):
    page = page_of(pair)
    data = data_of(page)
    bundle = web_decoder.pair_bundle(pair, False)
    assert base64.b64decode(data["bundle"]) == bundle
    assert web_decoder.read_header(bundle)["id"] in page
    assert data["live"]["bundles"] == [web_decoder.read_header(bundle)["id"]]
    assert standalone.module_script() in page  # the same join the app registers
    # standalone.js as written, less its imports (the join removes them)
    assert modules.IMPORT.sub("", modules.read("standalone.js")).strip() in page
    from explorer.ui import click

    assert standalone.module_script() == click.SCRIPT


def test_the_maps_are_the_explore_pages(pair):
    data = data_of(page_of(pair, with_pca=True, color_by=None, same_scale=False))
    maps = figures.pair_maps(pair, None, False, True)
    assert list(data["figures"]) == ["map_ae", "map_vae", "map_pca"]
    for chart, figure in maps.items():
        assert data["figures"][chart] == json.loads(figure.to_json())
    titles = [f["layout"]["title"]["text"] for f in data["figures"].values()]
    assert titles == ["AE latent space", "VAE latent space", "PCA of the images"]
    assert data["live"]["kinds"] == ["ae", "vae", "pca"]
    assert data["points"]["dims"] == {"ae": 2, "vae": 2, "pca": pair.pca.n_components_}


def test_the_pinned_point_and_the_points_codes(pair):
    data = data_of(page_of(pair))
    assert data["live"]["pinned"]["index"] == 3
    assert data["marker"]["map_vae"] == pytest.approx(list(pair.codes["vae"][3]))
    assert data["marker"]["map_ae"] == pytest.approx(list(pair.codes["ae"][3]))
    codes = base64.b64decode(data["points"]["codes"]["ae"])
    assert len(codes) == 4 * pair.codes["ae"].size  # float32, the encoder's own precision
    originals = base64.b64decode(data["points"]["originals"])
    assert len(originals) == pair.dataset.pixels[pair.indices].size  # one byte a pixel


def test_the_size_is_plotly_plus_little(pair):
    size = len(page_of(pair).encode())
    extra = size - len(get_plotlyjs())
    assert 0 < extra < 400_000, extra  # digits: weights, codes, images, module, maps
    assert size < 6_000_000


def test_float16_weights_on_request(pair):
    data = data_of(page_of(pair, dtype="float16"))
    assert web_decoder.read_header(base64.b64decode(data["bundle"]))["dtype"] == "float16"


def test_text_from_outside_cannot_end_a_script_or_inject_markup(pair):
    hostile = "</script><script>alert(1)</script><!-- <b>"
    dataset = dataclasses.replace(pair.dataset, description=hostile)
    odd = dataclasses.replace(pair, dataset=dataset, label=hostile, _shared={})
    page = page_of(odd)
    assert page.count("</script") == 3  # the three scripts' own ends
    assert "<script>alert" not in page and hostile not in page
    assert html.escape(hostile) in page  # the description, shown as text
    assert data_of(page)["live"]["captions"]["data"]["original"] == "data point #3"


def test_models_the_browser_cannot_run_are_refused(pair, monkeypatch):
    monkeypatch.setattr(web_decoder, "MAX_PARAMETERS", 100)
    fresh = dataclasses.replace(pair, _shared={})
    with pytest.raises(web_decoder.Unsupported):
        page_of(fresh)


# ---- the button on the Explore page (AppTest, digits models trained by conftest's `runs`) ----


def test_the_explore_page_offers_the_page_pinned_where_the_panel_is(app, monkeypatch):
    import streamlit
    from apptest import send_trigger

    callables = []
    download_button = streamlit.download_button

    def spy(label, data, *args, **kwargs):
        if label == "Download as HTML":
            callables.append(data)
        return download_button(label, data, *args, **kwargs)

    monkeypatch.setattr(streamlit, "download_button", spy)
    app.run()
    assert not app.exception
    assert [b.label for b in app.download_button if b.label == "Download as HTML"]
    assert len(callables) == 1  # a callable: built on a click, not on every rerun
    assert data_of(callables[0]().decode())["live"]["pinned"]["index"] == 0
    # A point pinned later (a fragment run) is the one the same button's file pins.
    send_trigger(app, "latent_click", "point", {"z": [1.5, -0.25]})
    pinned = data_of(callables[0]().decode())["live"]["pinned"]
    assert pinned == {"index": None, "z": [1.5, -0.25], "codes": None}
