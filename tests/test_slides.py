"""The slide kit: the Explore view as one figure (explorer/core/slide_figure.py) and its export
as SVG and 300-dpi PNG (explorer/core/export.py). Exports drive Debian's Chromium through
kaleido: they skip without it, and fail in CI (LATENT_EXPLORER_REQUIRE_BROWSER=1)."""

import io
import struct
import xml.etree.ElementTree as ET
from datetime import datetime

import numpy as np
import plotly.graph_objects as go
import pytest
from apptest import deferred_downloads
from pairs import small_digits_pair
from PIL import Image
from streamlit.testing.v1 import AppTest

from explorer.core import export
from explorer.core.animation import slide_name
from explorer.core.points import Point
from explorer.core.selection import markers, point_at
from explorer.core.slide_figure import point_title, slide_figure

SVG = "{http://www.w3.org/2000/svg}svg"


@pytest.fixture(scope="module")
def pair(digits):
    return small_digits_pair(digits)


def images(fig: go.Figure) -> list[go.Image]:
    return [t for t in fig.data if t.type == "image"]


def marks(fig: go.Figure) -> list[go.Scatter]:
    return [t for t in fig.data if t.type == "scatter" and t.marker.symbol == "x"]


def tally() -> go.Figure:
    """Any figure will do: a poll's tally is a bar chart (explorer/core/polls.py)."""
    return go.Figure(go.Bar(x=["A", "B", "C"], y=[3, 12, 5]), {"title": {"text": "Step 3"}})


# ---- the figure (no browser) ----


def test_the_slide_shows_both_maps_with_the_data_point_marked_and_its_three_images(pair):
    point = point_at(pair, 7)
    fig = slide_figure(pair, point)
    assert fig.layout.title.text == "digits: data point #7"
    titles = [a.text for a in fig.layout.annotations]
    assert titles == [
        "AE latent space",
        "VAE latent space",
        "data point #7",
        "AE reconstruction",
        "VAE reconstruction",
    ]
    assert not [t for t in fig.data if t.type == "scattergl"]  # SVG stays vector
    points = [t for t in fig.data if t.type == "scatter" and len(t.x) == len(pair.indices)]
    assert [(t.xaxis, t.yaxis) for t in points] == [("x", "y"), ("x2", "y2")]
    np.testing.assert_allclose(points[1].x, pair.xy("vae")[:, 0])
    expected = markers(pair, point)
    assert [(t.xaxis, (t.x[0], t.y[0])) for t in marks(fig)] == [
        ("x", pytest.approx(expected["map_ae"])),
        ("x2", pytest.approx(expected["map_vae"])),
    ]
    assert len(images(fig)) == 3
    assert all(i.source.startswith("data:image/png;base64,") for i in images(fig))
    legend = [t.name for t in fig.data if t.type == "scatter" and t.showlegend is not False]
    assert legend == [str(d) for d in range(10)]  # one legend: the ten digits, once


def test_an_empty_spot_shows_what_both_models_decode_it_to(pair):
    fig = slide_figure(pair, Point((0.5, -1.0)))
    assert fig.layout.title.text == "digits: z = (0.50, -1.00)"
    assert [a.text for a in fig.layout.annotations][2:] == ["AE decodes z", "VAE decodes z"]
    assert len(images(fig)) == 2
    assert [(t.x[0], t.y[0]) for t in marks(fig)] == [(0.5, -1.0), (0.5, -1.0)]  # 2-D: identity


def test_a_long_code_is_cut_in_the_title():
    assert point_title(Point((1.0, 2.0, 3.0, 4.0, 5.0))) == "z = (1.00, 2.00, 3.00, 4.00, ...)"


def test_the_dpi_chunk_says_300_dpi_and_keeps_the_png_valid():
    buffer = io.BytesIO()
    Image.new("RGB", (30, 20), "red").save(buffer, format="PNG")
    png = export.with_dpi(buffer.getvalue(), 300)
    image = Image.open(io.BytesIO(png))
    image.load()  # checks every chunk's CRC
    assert image.size == (30, 20) and image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    assert export.with_dpi(png, 72) == png  # one pHYs only
    assert png[33:37] == struct.pack(">I", 9) and png[37:41] == b"pHYs"


def test_no_browser_means_a_one_line_error_not_a_crash(monkeypatch, tmp_path):
    monkeypatch.setenv(export.BROWSER_ENV, str(tmp_path / "no-chromium"))
    assert export.find_browser() is None
    with pytest.raises(export.NoBrowserError, match="apt-get install chromium"):
        export.png_bytes(tally())
    assert "\n" not in export.NO_BROWSER
    monkeypatch.delenv(export.BROWSER_ENV)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert export.find_browser() is None


def test_slide_files_are_named_by_dataset_view_and_date():
    when = datetime(2026, 12, 7, 22, 5)
    assert slide_name("faces", "explore", when, "svg") == "faces_explore_2026-12-07.svg"
    assert slide_name("my/faces", "poll-3", when, "png") == "my-faces_poll-3_2026-12-07.png"


# ---- the export (Chromium) ----


@pytest.mark.browser
@pytest.mark.slow
def test_the_slide_exports_as_an_svg_document_of_the_slide_size(pair, exporter):
    svg = export.svg_bytes(slide_figure(pair, point_at(pair, 7)))
    root = ET.fromstring(svg)
    assert root.tag == SVG
    assert (root.get("width"), root.get("height")) == ("1280", "720")  # 13.33 x 7.5 in at 96
    text = svg.decode()
    assert "digits: data point #7" in text and text.count("<image") == 3  # the three images
    assert "VAE latent space" in text


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("inches", [export.SLIDE_INCHES, (3.5, 2.1), (6.67, 3.33)])
def test_a_png_has_exactly_300_pixels_per_inch_asked_and_says_so(exporter, inches):
    image = Image.open(io.BytesIO(export.png_bytes(tally(), inches)))
    image.load()
    assert image.format == "PNG"
    assert image.size == (round(inches[0] * 300), round(inches[1] * 300))
    assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    top_left = image.convert("RGB").getpixel((5, 5))
    assert top_left == (255, 255, 255)  # drawn: a white page, not an empty transparent one


# ---- the buttons, for any figure (the poll's tally uses them too) ----


def tally_page():
    import plotly.graph_objects as go

    from explorer.ui.slides import slide_downloads

    bars = go.Figure(go.Bar(x=["A", "B"], y=[4, 9]))
    slide_downloads(bars, "faces", "poll-step-3", key="tally")


def test_any_figure_gets_both_buttons_named_by_dataset_view_and_date(exporter, monkeypatch):
    downloads = deferred_downloads(monkeypatch)
    page = AppTest.from_function(tally_page, default_timeout=30).run()
    assert not page.exception
    assert [b.proto.label for b in page.get("download_button")] == [
        "SVG for slides",
        "PNG, 300 dpi",
    ]
    day = datetime.now().date().isoformat()
    build, mime = downloads[f"faces_poll-step-3_{day}.png"]
    assert mime == "image/png" and Image.open(io.BytesIO(build())).size == (4000, 2250)
    assert downloads[f"faces_poll-step-3_{day}.svg"][1] == "image/svg+xml"


def test_any_figure_without_a_browser_gets_one_line_instead(monkeypatch, tmp_path):
    monkeypatch.setenv(export.BROWSER_ENV, str(tmp_path / "no-chromium"))
    page = AppTest.from_function(tally_page, default_timeout=30).run()
    assert not page.exception and not page.get("download_button")
    assert [c.value for c in page.caption] == [export.NO_BROWSER]
