"""The app headless (streamlit.testing.v1.AppTest): every page, pickers, training, bad uploads."""

import time

import pytest
from apptest import APP, fresh_app, train_default_digits
from streamlit.testing.v1 import AppTest

from explorer.core.points import Point
from explorer.server.jobs import JobSpec
from explorer.ui import resources, state
from explorer.ui.uploads import MAX_UPLOAD_MB


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A runs folder holding small default digits models, so pages open at once."""
    path = tmp_path_factory.mktemp("runs")
    train_default_digits(path)
    return path


@pytest.fixture
def app(runs, monkeypatch):
    at = fresh_app(runs, monkeypatch, timeout=60)
    yield at
    for job in resources.job_manager().running():
        job.cancel()
        job.join(30)


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


def wait_for(app, condition, timeout=90):
    """Rerun the app until condition(app) holds (a background job is polled by a fragment)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        app.run()
        if condition(app):
            return
        time.sleep(0.5)
    raise AssertionError("timed out waiting for the app")


@pytest.mark.slow
def test_training_in_the_app_finishes_and_opens_in_the_maps(app):
    app.run()
    app.switch_page("views/train.py").run()
    app.number_input(key="train_epochs").set_value(3)
    app.button[0].click()  # the form's Train button
    app.run()
    assert not app.exception
    wait_for(app, lambda a: any("Finished" in s.value for s in a.success))
    assert app.get("plotly_chart"), "loss curves are shown"
    app.button(key="open_run").click().run()
    assert app.query_params["models"] not in ("default", "upload")


@pytest.mark.slow
def test_training_can_be_cancelled(app):
    app.run()
    app.switch_page("views/train.py").run()
    app.number_input(key="train_epochs").set_value(1000)
    app.button[0].click()
    app.run()
    wait_for(app, lambda a: any(b.key == "cancel_job" for b in a.button))
    app.button(key="cancel_job").click().run()
    wait_for(app, lambda a: any("Cancelled" in w.value for w in a.warning))


def test_the_concurrent_training_cap_gives_a_clear_message(app):
    app.run()
    manager = resources.job_manager()
    for _ in range(manager.max_running):
        manager.start(JobSpec(epochs=1000))
    app.switch_page("views/train.py").run()
    app.button[0].click()
    app.run()
    assert any("limit" in e.value for e in app.error)


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


def test_picking_another_dataset_trains_its_default_models_in_the_background(app):
    app.run()
    app.selectbox(key="dataset").set_value("faces").run()
    assert not app.exception
    assert any("First use of **faces**" in i.value for i in app.info)


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
