"""The app headless (streamlit.testing.v1.AppTest): every page, pickers, bad uploads (training:
test_app_train.py)."""

import pytest
from apptest import APP
from streamlit.testing.v1 import AppTest

from explorer.core.points import Point
from explorer.ui import resources, state
from explorer.ui.uploads import MAX_UPLOAD_MB
from training.data import available_datasets


def captions(at):
    return [caption for image in at.get("image") for caption in image.captions]


def test_explore_opens_on_the_default_models_with_both_maps_and_a_first_decode(app):
    app.run()
    assert not app.exception
    charts = [e for e in app.get("plotly_chart")]
    assert len(charts) == 2
    assert captions(app) == ["data point #0", "AE reconstruction", "VAE reconstruction",
                             "PCA, 2 components"]  # fmt: skip
    assert [s.label for s in app.slider] == ["z1", "z2"]
    assert app.query_params["dataset"] == "digits" and app.query_params["models"] == "default"


def test_a_slider_decodes_a_new_point_in_both_models_and_updates_the_url(app):
    app.run()
    app.slider[0].set_value(1.5).run()
    assert not app.exception
    assert captions(app)[:2] == ["AE decodes z", "VAE decodes z"]
    assert app.query_params["point"].startswith("1.5,")


def test_the_url_restores_the_selected_point(app):
    app.query_params["point"] = "i5"
    app.run()
    assert captions(app)[0] == "data point #5"
    app2 = AppTest.from_file(APP, default_timeout=60)
    app2.query_params["point"] = "0.25,-0.5"
    app2.run()
    assert captions(app2)[:2] == ["AE decodes z", "VAE decodes z"]
    assert [s.value for s in app2.slider] == pytest.approx([0.25, -0.5])


def test_a_bad_point_in_the_url_falls_back_to_the_first_data_point(app):
    app.query_params["point"] = "i99999"
    app.run()
    assert not app.exception and captions(app)[0] == "data point #0"


@pytest.mark.parametrize("text", ["nan,nan", "nan,1", "inf,0", "0,-inf", "1,2,3", "abc", "i-1"])
def test_a_point_in_the_url_that_is_not_finite_numbers_is_refused_with_a_message(app, text):
    app.query_params["point"] = text
    app.run()
    assert not app.exception
    assert any("The link's point is not used" in w.value for w in app.warning)
    assert captions(app)[0] == "data point #0"
    app.slider[0].set_value(0.5).run()  # the session goes on: the next move decodes
    assert not app.exception and captions(app)[:2] == ["AE decodes z", "VAE decodes z"]


@pytest.mark.parametrize("text", ["1e308,-1e308", "1e39,0", "-3e5,7"])
def test_a_point_far_outside_the_data_is_clipped_and_the_page_says_so(app, text):
    app.query_params["point"] = text
    app.run()
    assert not app.exception
    assert any("far outside the data" in w.value for w in app.warning)
    assert captions(app)[:2] == ["AE decodes z", "VAE decodes z"]
    values = [s.value for s in app.slider]
    assert all(abs(v) < 1e3 for v in values)  # no 300-digit numbers, no collapsed sliders
    assert all(s.min < s.max for s in app.slider)
    assert all(len(v) < 12 for v in app.query_params["point"].split(","))


def test_the_pca_toggle_adds_a_third_map(app):
    app.run()
    app.toggle(key="with_pca").set_value(True).run()
    assert len(app.get("plotly_chart")) == 3


def test_generate_shows_grids_samples_and_interpolations_in_both_models(app):
    app.run()
    app.switch_page("views/generate.py").run()
    assert not app.exception
    names = captions(app)
    assert "AE decoded over the data's extent (1st-99th percentile)" in names
    assert "VAE: 16 samples" in names
    assert {"AE, linear", "AE, spherical", "VAE, linear", "VAE, spherical"} <= set(names)
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


def test_a_url_naming_a_dataset_that_is_not_there_says_so_in_one_line(app):
    app.query_params["dataset"] = "celeba"  # no data folder: not on this server
    app.run()
    assert not app.exception
    assert [w.value for w in app.warning] == [
        "This link asks for the dataset 'celeba', which is not on this server: showing digits "
        "instead."
    ]
    assert app.selectbox(key="dataset").value == "digits"


def test_picking_another_dataset_trains_its_default_models_in_the_background(app):
    app.run()
    app.selectbox(key="dataset").set_value("faces").run()
    assert not app.exception
    assert any("First use of **faces**" in i.value for i in app.info)
    # The sidebar says what the data is, not where a cache file lies.
    assert [c.value for c in app.sidebar.caption][:1] == [
        "Procedural faces with known attributes (Smiling, Eyeglasses, ...)."
    ]


def test_an_upload_over_the_size_limit_is_refused(app, runs):
    good = (runs / "default" / "digits" / "vae.safetensors").read_bytes()
    upload(app, b"\0" * (MAX_UPLOAD_MB * 2**20 + 1), good)
    assert not app.exception
    assert any("larger than" in e.value for e in app.error)


def test_a_picked_point_beyond_another_datasets_points_falls_back_to_the_first(app):
    app.run()
    app.session_state[state.POINT] = Point((0.0, 0.0), index=10**6)  # as if picked on a bigger set
    app.run()
    assert not app.exception and captions(app)[0] == "data point #0"
