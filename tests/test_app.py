"""The app headless (streamlit.testing.v1.AppTest): every page, pickers, bad uploads (training:
test_app_train.py)."""

import io
import xml.etree.ElementTree as ET
from datetime import datetime

import pytest
from apptest import APP, component, component_data, deferred_downloads, live_panel, send_trigger
from PIL import Image
from streamlit.testing.v1 import AppTest

from explorer.core import export
from explorer.core.points import Point
from explorer.ui import resources, state
from explorer.ui.click import parse_z
from explorer.ui.uploads import MAX_UPLOAD_MB
from explorer.web import web_decoder
from explorer.web.web_decoder import read_header
from training.data import available_datasets


def captions(at):
    return [caption for image in at.get("image") for caption in image.captions]


# ---- Explore, decoding in the browser: the live panel's data, as sent to the component ----


def weights_id(at, key: str = "decoder_weights") -> str:
    element = component(at, key)
    assert element is not None and element.proto.bytes, f"no weights sent as {key}"
    return read_header(element.proto.bytes)["id"]


def server_note(at) -> list[str]:
    return [c.value for c in at.caption if c.value.startswith("Decoding on the server")]


def assert_live(at) -> dict:
    """The page decodes in the browser: the panel's data, its weights, no server images."""
    assert not at.exception
    live = live_panel(at)
    assert live is not None, server_note(at)
    weights = "decoder_weights_pca" if "pca" in live["kinds"] else "decoder_weights"
    assert live["bundles"] == [weights_id(at, weights)]
    assert captions(at) == [] and len(at.slider) == 0 and server_note(at) == []
    return live


def test_explore_opens_on_the_default_models_with_both_maps_and_a_live_panel(app):
    app.run()
    live = assert_live(app)
    assert len(app.get("plotly_chart")) == 2
    assert live["kinds"] == ["ae", "vae"] and set(live["maps"]) == {"map_ae", "map_vae"}
    pinned = live["pinned"]
    assert pinned["index"] == 0 and set(pinned["codes"]) == {"ae", "vae"}
    assert pinned["z"] == pytest.approx(pinned["codes"]["vae"])  # the VAE's code of point #0
    assert live["original"].startswith("data:image/png;base64,")
    # PCA's reconstruction as a picture from the server: PCA decodes in the browser only when
    # its map is shown.
    assert live["pcaPicture"].startswith("data:image/png;base64,")
    assert live["captions"]["data"] == {
        "ae": "AE reconstruction",
        "vae": "VAE reconstruction",
        "pca": "PCA, 2 components",
        "original": "data point #0",
    }
    assert live["captions"]["point"]["ae"] == "AE decodes z"
    assert live["captions"]["point"]["vae"] == "VAE decodes z"
    assert live["sliders"]["coords"] == [0, 1]
    for (low, high), v in zip(live["sliders"]["ranges"], pinned["z"], strict=True):
        assert low < v < high
    assert app.query_params["dataset"] == "digits" and app.query_params["models"] == "default"
    assert app.query_params["point"] == "i0"


def test_a_point_pinned_in_the_browser_is_taken_and_updates_the_url_and_the_marker(app):
    app.run()
    before = component_data(app)["marker"]
    send_trigger(app, "latent_click", "point", {"z": [1.5, -0.25]})
    live = assert_live(app)
    assert live["pinned"] == {"index": None, "z": [1.5, -0.25], "codes": None}
    assert live["original"] is None and live["pcaPicture"] is None
    assert app.query_params["point"] == "1.5,-0.25"
    marker = component_data(app)["marker"]
    assert marker != before and marker["map_vae"] == pytest.approx([1.5, -0.25])  # 2-D: identity
    app.run()  # a trigger fires once: the next run keeps the point
    assert live_panel(app)["pinned"]["z"] == [1.5, -0.25]


def test_a_pinned_point_of_the_wrong_length_is_not_used_and_says_so(app):
    app.run()
    send_trigger(app, "latent_click", "point", {"z": [0.5, 0.5, 0.5]})
    live = assert_live(app)
    assert [w.value for w in app.warning] == [
        "The browser sent a point with 3 numbers: it was not used."
    ]
    assert live["pinned"]["index"] == 0 and app.query_params["point"] == "i0"


def test_a_pinned_point_far_outside_the_data_is_clipped_and_says_so(app):
    app.run()
    send_trigger(app, "latent_click", "point", {"z": [1e300, -5e4]})
    live = assert_live(app)
    assert any("The point lies far outside the data" in w.value for w in app.warning)
    z = live["pinned"]["z"]
    assert all(abs(v) < 1e3 for v in z) and z[0] > 0 > z[1]
    assert all(low < high for low, high in live["sliders"]["ranges"])
    assert all(len(v) < 12 for v in app.query_params["point"].split(","))


@pytest.mark.parametrize("value", [{"z": [float("nan"), 0.0]}, {"z": []}, {"z": "x"}, None, 7])
def test_a_malformed_pinned_point_changes_nothing(app, value):
    app.run()
    send_trigger(app, "latent_click", "point", value)
    live = assert_live(app)
    assert live["pinned"]["index"] == 0 and not app.warning


def test_a_click_on_a_data_point_pins_it(app):
    app.run()
    z = live_panel(app)["pinned"]["z"]  # a click's coordinates: any; the index decides
    click = {"chart": "map_vae", "x": z[0], "y": z[1], "point_index": 42, "seq": 1}
    send_trigger(app, "latent_click", "click", click)
    live = assert_live(app)
    assert live["pinned"]["index"] == 42 and app.query_params["point"] == "i42"
    assert live["captions"]["data"]["original"] == "data point #42"


@pytest.mark.browser
@pytest.mark.slow
def test_explore_offers_the_pinned_view_as_svg_and_300_dpi_png_for_slides(
    app, monkeypatch, exporter
):
    downloads = deferred_downloads(monkeypatch)
    app.run()
    send_trigger(
        app,
        "latent_click",
        "click",
        {"chart": "map_vae", "x": 0, "y": 0, "point_index": 9, "seq": 1},
    )
    assert not app.exception
    labels = [b.proto.label for b in app.get("download_button")]
    assert {"SVG for slides", "PNG, 300 dpi"} <= set(labels)
    day = datetime.now().date().isoformat()
    build, mime = downloads[f"digits_explore_{day}.svg"]
    svg = build()  # as Streamlit calls it on the click: the point pinned last
    assert mime == "image/svg+xml" and ET.fromstring(svg).tag.endswith("}svg")
    assert b"digits: data point #9" in svg
    build, mime = downloads[f"digits_explore_{day}.png"]
    image = Image.open(io.BytesIO(build()))
    assert mime == "image/png" and image.size == (4000, 2250)
    assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)


def test_without_a_browser_explore_says_so_in_one_line_instead_of_slide_buttons(
    app, monkeypatch, tmp_path
):
    monkeypatch.setenv(export.BROWSER_ENV, str(tmp_path / "no-chromium"))
    app.run()
    assert not app.exception
    labels = [b.proto.label for b in app.get("download_button")]
    assert "SVG for slides" not in labels and "PNG, 300 dpi" not in labels
    assert export.NO_BROWSER in [c.value for c in app.caption]


def test_the_url_restores_the_selected_point(app):
    app.query_params["point"] = "i5"
    app.run()
    live = assert_live(app)
    assert live["pinned"]["index"] == 5 and live["captions"]["data"]["original"] == "data point #5"
    app2 = AppTest.from_file(APP, default_timeout=60)
    app2.query_params["point"] = "0.25,-0.5"
    app2.run()
    live = assert_live(app2)
    assert live["pinned"]["index"] is None
    assert live["pinned"]["z"] == pytest.approx([0.25, -0.5])


def test_a_bad_point_in_the_url_falls_back_to_the_first_data_point(app):
    app.query_params["point"] = "i99999"
    app.run()
    assert assert_live(app)["pinned"]["index"] == 0


@pytest.mark.parametrize("text", ["nan,nan", "nan,1", "inf,0", "0,-inf", "1,2,3", "abc", "i-1"])
def test_a_point_in_the_url_that_is_not_finite_numbers_is_refused_with_a_message(app, text):
    app.query_params["point"] = text
    app.run()
    live = assert_live(app)
    assert any("The link's point is not used" in w.value for w in app.warning)
    assert live["pinned"]["index"] == 0
    send_trigger(app, "latent_click", "point", {"z": [0.5, 0.0]})  # the session goes on
    assert assert_live(app)["pinned"]["z"] == [0.5, 0.0] and not app.warning


@pytest.mark.parametrize("text", ["1e308,-1e308", "1e39,0", "-3e5,7"])
def test_a_point_far_outside_the_data_is_clipped_and_the_page_says_so(app, text):
    app.query_params["point"] = text
    app.run()
    live = assert_live(app)
    assert any("far outside the data" in w.value for w in app.warning)
    assert live["pinned"]["index"] is None
    assert all(abs(v) < 1e3 for v in live["pinned"]["z"])  # no 300-digit numbers
    ranges = live["sliders"]["ranges"]
    assert all(low < high and abs(low) < 1e3 and abs(high) < 1e3 for low, high in ranges)
    assert all(len(v) < 12 for v in app.query_params["point"].split(","))


def test_the_pca_toggle_adds_a_third_map_that_decodes_in_the_browser_too(app):
    app.run()
    app.toggle(key="with_pca").set_value(True).run()
    assert len(app.get("plotly_chart")) == 3
    live = assert_live(app)
    assert live["kinds"] == ["ae", "vae", "pca"] and live["maps"]["map_pca"]["kind"] == "pca"
    assert live["ownLatent"] == {"pca": True}
    assert live["bundles"] == [weights_id(app, "decoder_weights_pca")]
    assert set(live["pinned"]["codes"]) == {"ae", "vae", "pca"}
    assert live["pcaPicture"] is None  # PCA's own canvas shows the reconstruction


def test_a_picked_point_beyond_another_datasets_points_falls_back_to_the_first(app):
    app.run()
    app.session_state[state.POINT] = Point((0.0, 0.0), index=10**6)  # as if picked on a bigger set
    app.run()
    assert assert_live(app)["pinned"]["index"] == 0


def test_the_point_trigger_is_checked_before_python_uses_it():
    assert parse_z({"z": [1, -2.5]}) == [1.0, -2.5]
    for bad in (
        None,
        7,
        "z",
        {},
        {"z": None},
        {"z": []},
        {"z": ["a", 1]},
        {"z": [1, "nan"]},
        {"z": [float("inf"), 0]},
        {"z": 3},
        {"z": "12"},
        {"z": {"1": 0, "2": 0}},
        {"point": [1, 2]},
    ):
        assert parse_z(bad) is None, bad


# ---- Explore, decoding on the server: the decoders cannot run in the browser, or it failed ----


@pytest.fixture
def server_app(app, monkeypatch):
    """The app on a server whose decoders are too big for a browser (no weight is allowed)."""
    monkeypatch.setattr(web_decoder, "MAX_PARAMETERS", 0)
    return app


def assert_server(at, reason: str) -> None:
    assert not at.exception
    assert live_panel(at) is None and component(at, "decoder_weights") is None
    assert server_note(at) == [f"Decoding on the server: {reason}."]


TOO_BIG = "the decoders have "  # ... N weights, more than the 0 sent to a browser


def test_explore_decodes_on_the_server_when_the_decoders_are_too_big(server_app):
    app = server_app
    app.run()
    assert not app.exception
    (note,) = server_note(app)
    assert note.startswith(f"Decoding on the server: {TOO_BIG}")
    assert note.endswith("more than the 0 sent to a browser.")
    assert live_panel(app) is None and component(app, "decoder_weights") is None
    assert len(app.get("plotly_chart")) == 2
    assert captions(app) == [
        "data point #0",
        "AE reconstruction",
        "VAE reconstruction",
        "PCA, 2 components",
    ]
    assert [s.label for s in app.slider] == ["z1", "z2"]


def test_on_the_server_a_slider_decodes_a_new_point_in_both_models_and_updates_the_url(server_app):
    app = server_app
    app.run()
    app.slider[0].set_value(1.5).run()
    assert not app.exception
    assert captions(app)[:2] == ["AE decodes z", "VAE decodes z"]
    assert app.query_params["point"].startswith("1.5,")


def test_on_the_server_the_url_restores_the_selected_point(server_app):
    app = server_app
    app.query_params["point"] = "i5"
    app.run()
    assert captions(app)[0] == "data point #5"
    app2 = AppTest.from_file(APP, default_timeout=60)
    app2.query_params["point"] = "0.25,-0.5"
    app2.run()
    assert captions(app2)[:2] == ["AE decodes z", "VAE decodes z"]
    assert [s.value for s in app2.slider] == pytest.approx([0.25, -0.5])


@pytest.mark.parametrize("text", ["nan,1", "abc"])
def test_on_the_server_a_url_point_that_is_not_finite_numbers_is_refused(server_app, text):
    app = server_app
    app.query_params["point"] = text
    app.run()
    assert not app.exception
    assert any("The link's point is not used" in w.value for w in app.warning)
    assert captions(app)[0] == "data point #0"
    app.slider[0].set_value(0.5).run()  # the session goes on: the next move decodes
    assert not app.exception and captions(app)[:2] == ["AE decodes z", "VAE decodes z"]


def test_on_the_server_a_point_far_outside_the_data_is_clipped(server_app):
    app = server_app
    app.query_params["point"] = "1e308,-1e308"
    app.run()
    assert not app.exception
    assert any("far outside the data" in w.value for w in app.warning)
    assert captions(app)[:2] == ["AE decodes z", "VAE decodes z"]
    values = [s.value for s in app.slider]
    assert all(abs(v) < 1e3 for v in values)  # no 300-digit numbers, no collapsed sliders
    assert all(s.min < s.max for s in app.slider)
    assert all(len(v) < 12 for v in app.query_params["point"].split(","))


def test_a_browser_that_fails_to_decode_switches_this_session_to_the_server(app):
    app.run()
    assert_live(app)
    reason = "the browser could not decode (out of memory)"
    send_trigger(app, "latent_click", "fallback", reason)
    assert_server(app, reason)
    assert captions(app)[:3] == ["data point #0", "AE reconstruction", "VAE reconstruction"]
    app.slider[0].set_value(1.5).run()  # the session stays on the server
    assert_server(app, reason)
    assert captions(app)[:2] == ["AE decodes z", "VAE decodes z"]
    other = AppTest.from_file(APP, default_timeout=60).run()  # another browser: its own
    assert_live(other)


def test_a_fallback_reason_is_cut_to_one_short_line(app):
    app.run()
    send_trigger(app, "latent_click", "fallback", "x" * 5000)
    (note,) = server_note(app)
    assert len(note) < 400


# ---- the other pages ----


def test_generate_shows_grids_samples_and_interpolations_in_both_models(app, monkeypatch):
    downloads = deferred_downloads(monkeypatch)
    app.run()
    app.switch_page("views/generate.py").run()
    assert not app.exception
    names = captions(app)
    assert "AE decoded over the data's extent (1st-99th percentile)" in names
    assert "VAE: 16 samples" in names
    assert {"AE, linear", "AE, spherical", "VAE, linear", "VAE, spherical"} <= set(names)
    (gif,) = [b for b in app.get("download_button") if b.proto.label == "Download as GIF"]
    assert "256 px" in gif.proto.help and "back again" in gif.proto.help
    (name,) = [n for n in downloads if n.startswith("digits_interpolation_")]
    build, mime = downloads[name]
    image = Image.open(io.BytesIO(build()))  # as Streamlit calls it on the click
    assert mime == "image/gif" and image.format == "GIF" and image.n_frames == 2 * 8 - 2
    app.toggle(key="grid_prior").set_value(True).run()
    assert "VAE decoded over prior quantiles" in captions(app)


def upload(app, ae: bytes, vae: bytes):
    app.run()
    app.selectbox(key="models").set_value("upload").run()
    app.file_uploader(key="up_ae").set_value(("ae.safetensors", ae, "application/octet-stream"))
    app.file_uploader(key="up_vae").set_value(("vae.safetensors", vae, "application/octet-stream"))
    app.run()


def test_uploaded_checkpoints_open_in_the_maps(app, runs):
    folder = runs / "default" / "digits"
    upload(app, (folder / "ae.safetensors").read_bytes(), (folder / "vae.safetensors").read_bytes())
    assert not app.exception and not app.error
    assert len(app.get("plotly_chart")) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"\x80\x04K\x01.", "pickle"), (b"garbage" * 10, "not a safetensors file")],
)
def test_a_hostile_or_corrupt_upload_gets_a_message_not_a_traceback(app, runs, content, message):
    good = (runs / "default" / "digits" / "vae.safetensors").read_bytes()
    upload(app, content, good)
    assert not app.exception
    assert any(message in e.value for e in app.error)


def test_an_upload_for_other_data_is_refused(app, runs, tmp_path):
    from training.checkpoints import save_checkpoint
    from training.config import ModelConfig
    from training.models import build_model

    other = build_model(ModelConfig(kind="ae", image_shape=(1, 28, 28)))
    path = save_checkpoint(tmp_path / "ae.safetensors", other, dataset={"name": "mnist"})
    good = (runs / "default" / "digits" / "vae.safetensors").read_bytes()
    upload(app, path.read_bytes(), good)
    assert not app.exception
    assert any("take images" in e.value for e in app.error)


@pytest.mark.shared_data("mnist", "celeba_subset")
def test_every_dataset_the_cli_finds_in_the_data_folder_is_pickable_and_trainable(
    app, shared_data, monkeypatch
):
    monkeypatch.setenv(resources.DATA_ENV, str(shared_data))
    found = [name for name, _, where in available_datasets(shared_data) if where]
    assert {"mnist", "celeba", "fashion-mnist"} <= set(found)
    app.run()
    assert app.selectbox(key="dataset").options == found
    app.switch_page("views/train.py").run()
    assert app.selectbox(key="train_dataset").options == found


@pytest.mark.shared_data("mnist", "celeba_subset")
@pytest.mark.parametrize("name", ["mnist", "celeba"])
def test_a_url_reaches_a_dataset_from_the_data_folder(app, shared_data, monkeypatch, name):
    monkeypatch.setenv(resources.DATA_ENV, str(shared_data))
    app.query_params["dataset"] = name
    app.run()
    assert not app.exception and not app.warning
    assert app.selectbox(key="dataset").value == name
    assert any(f"First use of **{name}**" in i.value for i in app.info)
    found = [c.proto.help for c in app.sidebar.caption if c.proto.help.startswith("Found: ")]
    assert found and not any(str(shared_data.resolve()) in h for h in found)  # not the path


def test_a_url_naming_a_dataset_that_is_not_there_says_so_in_one_line(app):
    app.query_params["dataset"] = "celeba"  # no data folder: not on this server
    app.run()
    assert not app.exception
    assert [w.value for w in app.warning] == [
        "This link asks for the dataset 'celeba', which is not on this server: showing digits "
        "instead."
    ]
    assert app.selectbox(key="dataset").value == "digits"


def test_picking_faces_opens_their_shipped_models_at_once(app):
    app.run()
    app.selectbox(key="dataset").set_value("faces").run()
    assert not app.exception
    assert not any("First use" in i.value for i in app.info)  # nothing trains: they ship
    assert len(app.get("plotly_chart")) == 2
    assert resources.job_manager().states() == []
    # The sidebar says what the data is, not where a cache file lies.
    # (Markdown-escaped, as every name that may come from a user's files: shown the same)
    assert [c.value.replace("\\", "") for c in app.sidebar.caption][:1] == [
        "Procedural faces with known attributes (Smiling, Eyeglasses, ...)."
    ]


def test_an_upload_over_the_size_limit_is_refused(app, runs):
    good = (runs / "default" / "digits" / "vae.safetensors").read_bytes()
    upload(app, b"\0" * (MAX_UPLOAD_MB * 2**20 + 1), good)
    assert not app.exception
    assert any("larger than" in e.value for e in app.error)
