"""Issue 12's security review, beyond the URL parameters (tests/test_app_hostile_urls.py):
names from a user's files and uploads shown literally (Markdown, Plotly, the standalone page),
XSRF protection on, uploads kept out of every other session's reach, and every size a session
can ask for bounded in the function that does the work."""

from __future__ import annotations

import csv
import json
import re
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from apptest import APP, fresh_app
from browser import streamlit_server
from PIL import Image
from streamlit.testing.v1 import AppTest

from explorer.core import concept_io, features, figures, latent
from explorer.core.concepts import Concept, ConceptError
from explorer.core.display import MAX_SHOWN, markdown_text, plotly_text
from explorer.core.model_pair import build_pair
from explorer.core.points import Point, PointError, parse_point
from explorer.server.jobs import MAX_EPOCHS, JobSpec
from explorer.ui import state
from explorer.ui.instruments.ellipses import MAX_ELLIPSES, ellipse_count
from explorer.web import standalone
from training.data import DataOptions, DatasetError, load_dataset, prepare_image
from training.models import build_model
from training.presets import default_model_config

REPO_ROOT = Path(__file__).resolve().parents[1]
# Names a user's CSV, image folder or concepts file may hold: HTML, a javascript: link, Markdown
# emphasis, the end of a <script>, math, a Streamlit colour directive, an autolink, an entity,
# line breaks, unicode, and a name far too long to show.
HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "**bold** _it_ `code` ~~gone~~",
    "</script><script>alert(1)</script>",
    "$x^2$ and :red[red] :smile: www.example.com https://example.com &lt;b&gt;",
    '<a href="https://example.com">link</a><br><b>b</b>',
    "line one\n# heading\r\n- item\x00",
    "Lächeln 笑 😀 \u202eevil",
    "x" * 5000,
]
MARKDOWN_SPECIAL = set("\\`*_~[]<>$&|#:.")


def unescaped(text: str) -> str:
    """CommonMark's reading of backslash escapes: a backslash before ASCII punctuation is
    dropped and the character kept literally (the oracle for markdown_text)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


def special_left_unescaped(text: str) -> list[str]:
    """Markdown characters in text that are not preceded by an escaping backslash."""
    left, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in MARKDOWN_SPECIAL:
            i += 2
            continue
        if text[i] in MARKDOWN_SPECIAL:
            left.append(text[i])
        i += 1
    return left


# ---- the two helpers ----


@pytest.mark.parametrize("name", HOSTILE, ids=range(len(HOSTILE)))
def test_markdown_text_shows_every_name_literally_on_one_line(name):
    shown = markdown_text(name)
    assert special_left_unescaped(shown) == []
    assert "\n" not in shown and "\r" not in shown and "\x00" not in shown
    literal = unescaped(shown)
    assert len(literal) <= MAX_SHOWN
    expected = re.sub(r"[\x00-\x1f]+", " ", name)
    assert literal == expected or (literal.endswith("…") and expected.startswith(literal[:-1]))


def test_markdown_text_leaves_plain_names_alone():
    assert markdown_text("Smiling") == "Smiling"
    assert markdown_text("not Wearing_Hat") == "not Wearing\\_Hat"
    assert markdown_text(ConceptError("a: b")) == "a\\: b"


@pytest.mark.parametrize("name", HOSTILE, ids=range(len(HOSTILE)))
def test_plotly_text_shows_every_name_as_text(name):
    shown = plotly_text(name)
    assert "<" not in shown and ">" not in shown and "\n" not in shown
    assert len(shown.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")) <= MAX_SHOWN
    if len(name) < MAX_SHOWN and "\n" not in name and "\x00" not in name:
        assert shown.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == name


# ---- names through the real loaders, into figures and the standalone page ----


def hostile_folder(folder: Path, names: list[str]) -> Path:
    """A folder of 12 small PNGs with an attributes.csv whose columns are `names`; each
    attribute holds both values. Some image files carry hostile names too."""
    folder.mkdir()
    files = [
        f"{i:02d}<b>[x](javascript:1).png" if i % 3 == 0 else f"{i:02d}.png" for i in range(12)
    ]
    rng = np.random.default_rng(0)
    for f in files:
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(folder / f)
    with (folder / "attributes.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["file", *names])
        for i, f in enumerate(files):
            writer.writerow([f, *((i + k) % 2 for k in range(len(names)))])
    return folder


# The CSV's own rules: one line per header cell and unique names (a NUL cannot be in a CSV).
CSV_NAMES = [n.replace("\n", " ").replace("\r", " ").replace("\x00", "") for n in HOSTILE]


@pytest.fixture(scope="module")
def hostile_pair(tmp_path_factory):
    folder = hostile_folder(tmp_path_factory.mktemp("data") / "faces", CSV_NAMES)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LATENT_EXPLORER_CACHE", str(tmp_path_factory.mktemp("cache")))
        dataset = load_dataset("folder", folder, DataOptions(image_size=16))
    models = [
        build_model(default_model_config(dataset.image_shape, kind), seed=n)
        for n, kind in enumerate(("ae", "vae"))
    ]
    return build_pair(dataset, *models, "hostile", max_points=12)


def strings_of(value) -> list[str]:
    """Every string inside a figure's JSON-like dict."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_of(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in strings_of(v)]
    return []


def assert_no_markup_from(names: list[str], texts: list[str]) -> None:
    """No text holds a hostile name's markup raw; Plotly's own tags (<br>, <extra>) may stay."""
    for text in texts:
        assert not any(tag in text for tag in ("<img", "<script", "</script", "<a ")), text[:120]
        assert not any(name in text for name in names if "<" in name), text[:120]


def test_the_loader_keeps_the_names_and_the_figures_show_them_escaped(hostile_pair):
    assert hostile_pair.dataset.attribute_names == tuple(CSV_NAMES)  # the data as the user wrote
    for name in CSV_NAMES:
        fig = figures.pair_maps(hostile_pair, name, True, True)["map_ae"]
        legend = [t.name for t in fig.data[1:]]
        assert legend == [plotly_text(f"not {name}"), plotly_text(name)]
        assert_no_markup_from(CSV_NAMES, strings_of(fig.to_plotly_json()))
    fig = figures.latent_map(
        hostile_pair.xy("vae"),
        None,
        (),
        f"VAE: x along {CSV_NAMES[0]}",
        (f"along {CSV_NAMES[3]}", "other"),
    )
    assert fig.layout.title.text == plotly_text(f"VAE: x along {CSV_NAMES[0]}")
    assert fig.layout.xaxis.title.text == plotly_text(f"along {CSV_NAMES[3]}")
    assert_no_markup_from(CSV_NAMES, strings_of(fig.to_plotly_json()))


def test_concept_figures_and_the_probe_show_names_escaped(hostile_pair):
    names = list(CSV_NAMES)
    along = np.linspace(-1, 1, 12)
    groups = np.arange(12) % 2
    made = [
        figures.group_histograms(along, groups, (f"not {names[0]}", names[0]), names[1]),
        figures.side_effect_bars({n: 0.1 * i for i, n in enumerate(names)}, names[3]),
    ]
    for target, (_, class_names) in features.targets(hostile_pair.dataset).items():
        counts = np.array([[3, 1], [2, 6]])
        made.append(features.confusion_figure(counts, class_names, f"predicted {target}"))
    for fig in made:
        assert_no_markup_from(names, strings_of(fig.to_plotly_json()))
    assert made[1].data[0].y[-1] == plotly_text(names[-1])  # the largest effect on top


def test_the_standalone_page_shows_the_names_as_text(hostile_pair):
    point = Point(tuple(hostile_pair.codes["vae"][3]), 3)
    for name in (CSV_NAMES[0], CSV_NAMES[3]):
        page = standalone.standalone_html(hostile_pair, point, [0, 1], False, color_by=name)
        text = page.decode()
        assert text.count("</script") == 3  # the page's own three scripts end, none other
        assert "<script>alert" not in text and "<img src=x" not in text
        data = text.split('id="lx-data">')[1].split("</script>")[0]
        legend = json.loads(data)["figures"]["map_ae"]["data"][2]["name"]
        assert legend == plotly_text(name)


def test_a_hostile_image_file_name_is_escaped_in_the_message_about_it(hostile_pair):
    with pytest.raises(DatasetError) as caught:
        prepare_image(b"not an image", hostile_pair.dataset, HOSTILE[1])
    assert HOSTILE[1] in str(caught.value)  # the error names the file as its owner wrote it
    shown = markdown_text(caught.value, 500)  # as explorer/ui/uploads.py shows it
    assert special_left_unescaped(shown) == [] and unescaped(shown) == str(caught.value)


def test_imported_concept_names_are_limited_and_shown_escaped_on_the_concepts_page(app):
    """A concepts file from a stranger: names up to 80 characters, any description, a "models"
    field of any length; the Concepts page shows each literally."""
    name, description = HOSTILE[0], HOSTILE[1] + " " + HOSTILE[4]
    vector = [1.0, 0.5]
    doc = {
        "format": concept_io.JSON_FORMAT,
        "version": 1,
        "latent_dim": 2,
        "models": HOSTILE[3] * 100,
        "concepts": [
            {"name": name, "description": description, "vectors": {"ae": vector, "vae": vector}},
            {"name": "x" * 81, "vectors": {"ae": vector, "vae": vector}},
        ],
    }
    with pytest.raises(ConceptError, match="1 to 80 characters"):
        concept_io.concepts_from_json(json.dumps(doc), 2)
    doc["concepts"].pop()
    (concept,), made_on = concept_io.concepts_from_json(json.dumps(doc), 2)
    app.run()
    app.switch_page("views/concepts.py").run()
    assert not app.exception
    key = app.session_state[state.CONCEPTS_FOR]
    other = Concept("plain", concept.vectors, "made here")
    app.session_state[state.CONCEPTS] = {name: concept, "plain": other}
    app.session_state[state.CONCEPTS_FOR] = key
    app.session_state[state.CONCEPT] = name
    app.run()
    assert not app.exception
    captions = [c.value for c in app.caption]
    assert f"**{markdown_text(name)}**: {markdown_text(description, 500)}." in captions
    assert not [c for c in captions if name in c or description in c]
    app.multiselect(key="combine").set_value([name, "plain"]).run()
    labels = [n.label for n in app.number_input if n.key and n.key.startswith("weight_")]
    assert labels == [f"weight of {markdown_text(name)}", "weight of plain"]


# ---- XSRF ----


def test_the_config_keeps_xsrf_protection_and_cors_on():
    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text())
    server = config.get("server", {})
    assert server.get("enableXsrfProtection", True) is True
    assert server.get("enableCORS", True) is True
    assert server.get("maxUploadSize", 200) <= 20  # MB, as explorer/ui/uploads.py says


@pytest.mark.slow
def test_the_server_refuses_an_upload_without_the_xsrf_token():
    """A PUT to the upload endpoint, as a page on another site could send it: refused (403)
    without the XSRF cookie and header, or with a header that does not match; with the token
    the request gets past the check (and fails on the made-up session instead: 400)."""

    def put(url: str, headers: dict) -> int:
        body = (
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
            b"Content-Type: image/png\r\n\r\nPNG\r\n--b--\r\n"
        )
        headers = {"Content-Type": "multipart/form-data; boundary=b", **headers}
        request = urllib.request.Request(url, body, headers, method="PUT")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as e:
            return e.code

    with streamlit_server("explorer/app.py") as url:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=10) as response:
            cookie = response.headers["Set-Cookie"].split(";")[0]
        token = cookie.split("=", 1)[1]
        assert cookie.startswith("_streamlit_xsrf=") and token
        target = f"{url}/_stcore/upload_file/made-up-session/file-1"
        assert put(target, {}) == 403
        assert put(target, {"Cookie": cookie}) == 403
        assert put(target, {"Cookie": cookie, "X-Xsrftoken": "2|00|00|1"}) == 403
        assert put(target, {"Cookie": cookie, "X-Xsrftoken": token.strip('"')}) == 400


# ---- uploads stay in the session that made them ----


def tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_uploaded_checkpoints_are_written_nowhere_and_offered_to_no_other_session(
    runs, private_cache, monkeypatch
):
    """The sidebar's upload (resources.pair_from_bytes, cached by the files' bytes: only a
    session holding the same bytes reaches that entry) writes nothing to the runs folder or the
    cache, and a fresh session's Models picker lists what it listed before; picking "upload
    files" there asks for files instead of showing the first session's models."""
    app = fresh_app(runs, monkeypatch, timeout=60).run()
    before_options = app.selectbox(key="models").options
    before = tree(runs), tree(private_cache)
    folder = runs / "default" / "digits"
    app.selectbox(key="models").set_value("upload").run()
    for kind in ("ae", "vae"):
        data = (folder / f"{kind}.safetensors").read_bytes()
        upload = (f"{HOSTILE[0]}.safetensors", data, "application/octet-stream")
        app.file_uploader(key=f"up_{kind}").set_value(upload).run()
    assert not app.exception and not app.error
    assert app.get("plotly_chart")  # the uploaded pair's maps
    assert (tree(runs), tree(private_cache)) == before
    other = AppTest.from_file(APP, default_timeout=60).run()  # the server's caches kept
    assert other.selectbox(key="models").options == before_options
    other.selectbox(key="models").set_value("upload").run()
    assert any("Upload an AE and a VAE" in i.value for i in other.info)
    assert not other.get("plotly_chart")


# ---- every size a session can ask for is bounded where the work is done ----


def test_the_manifold_grid_is_bounded():
    assert latent.grid_points((0, 1), (0, 1), latent.MAX_GRID_SIDE).shape == (400, 2)
    for n in (latent.MAX_GRID_SIDE + 1, 10**9):
        with pytest.raises(ValueError, match="n must be 1 to 20"):
            latent.grid_points((0, 1), (0, 1), n)
        with pytest.raises(ValueError, match="n must be 1 to 20"):
            latent.prior_quantile_grid(n)


def test_interpolation_steps_are_bounded():
    a, b = np.zeros(2), np.ones(2)
    assert latent.interpolate(a, b, latent.MAX_STEPS).shape == (latent.MAX_STEPS, 2)
    with pytest.raises(ValueError, match="n_steps must be 2 to 16"):
        latent.interpolate(a, b, 10**9, "spherical")


def test_prior_samples_are_bounded_by_their_size():
    rng = np.random.default_rng(0)
    assert latent.sample_prior(16, 4096, rng).shape == (16, 4096)
    with pytest.raises(ValueError, match="n_samples \\* latent_dim"):
        latent.sample_prior(10**9, 2, rng)
    with pytest.raises(ValueError, match="n_samples \\* latent_dim"):
        latent.sample_prior(-1, 2, rng)


def test_the_ellipse_count_is_snapped_so_one_session_cannot_fill_the_figure_cache():
    assert [ellipse_count(c) for c in (0, 12, 13, 137, 150, 300)] == [0, 0, 25, 125, 150, 300]
    assert ellipse_count(10**9) == MAX_ELLIPSES and ellipse_count(-5) == 0
    assert len({ellipse_count(c) for c in range(MAX_ELLIPSES + 1)}) == MAX_ELLIPSES // 25 + 1


@pytest.mark.parametrize(
    "text", ["i" + "9" * 5000, "i" + "9" * 13, ",".join(["1"] * 100_000), "1" * 10**6]
)
def test_a_point_in_the_url_is_bounded_before_it_is_parsed(text):
    codes = np.zeros((10, 2))
    with pytest.raises(PointError):
        parse_point(text, codes)


def test_training_jobs_are_bounded_by_their_spec():
    """explorer/server/jobs.py's JobSpec (not changed here): latent size and epochs."""
    JobSpec(latent_dim=4096, epochs=MAX_EPOCHS)
    for bad in (
        {"latent_dim": 4097},
        {"latent_dim": 0},
        {"epochs": MAX_EPOCHS + 1},
        {"epochs": 0},
        {"beta": -1.0},
        {"lr": 11.0},
    ):
        with pytest.raises(ValueError):
            JobSpec(**bad)


def test_streamlit_resets_a_widget_value_outside_its_range(app):
    """What a client can send for a slider or number box over the websocket: Streamlit 1.67
    replaces a value outside the widget's range by its default (the functions above are the
    second line)."""
    app.run()
    app.switch_page("views/generate.py").run()
    app.slider(key="grid_n").set_value(10_000).run()
    app.slider(key="interp_steps").set_value(10**6).run()
    app.number_input(key="sample_seed").set_value(-(10**12)).run()
    assert not app.exception
    assert app.slider(key="grid_n").value == 10
    assert app.slider(key="interp_steps").value == 8
    assert app.number_input(key="sample_seed").value == 0


def test_one_csv_name_of_any_length_is_shown_short(tmp_path):
    data = hostile_folder(tmp_path / "f", ["a" * 100_000])
    dataset = load_dataset("folder", data, DataOptions(image_size=16))
    assert len(dataset.attribute_names[0]) == 100_000
    assert len(unescaped(markdown_text(dataset.attribute_names[0]))) == MAX_SHOWN
    assert len(plotly_text(dataset.attribute_names[0])) == MAX_SHOWN
