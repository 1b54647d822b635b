"""The training time-lapse instrument headless (AppTest): the default digits models (trained
through train_side_by_side, so they carry their time-lapse), a training run's, and a run
without one (trained before time-lapses were recorded)."""

import io
import json
import shutil

from apptest import deferred_downloads, fresh_app
from PIL import Image

from training.timelapse import FILENAME, MAX_FRAMES


def open_timelapse(app, models: str | None = None):
    app.query_params["instrument"] = "timelapse"
    if models is not None:
        app.query_params["models"] = models
    app.run()
    app.switch_page("views/instruments.py").run()
    assert not app.exception
    assert app.query_params["instrument"] == "timelapse"
    return app


def figure_spec(app) -> dict:
    (chart,) = app.get("plotly_chart")
    return json.loads(chart.proto.spec)


def assert_animated(spec: dict) -> None:
    frames = spec["frames"]
    assert 3 <= len(frames) <= MAX_FRAMES
    assert frames[0]["name"] == "0" and len(spec["layout"]["sliders"][0]["steps"]) == len(frames)
    labels = [b["label"] for b in spec["layout"]["updatemenus"][0]["buttons"]]
    assert labels == ["▶ Play", "❚❚ Pause", "⟲ Replay"]


def test_the_default_models_time_lapse_plays_in_one_figure(app, monkeypatch):
    downloads = deferred_downloads(monkeypatch)
    open_timelapse(app)
    assert_animated(figure_spec(app))
    assert "Training is a film" in app.info[0].value
    assert any(c.value.startswith("Press Play") for c in app.caption)
    (gif,) = [b for b in app.get("download_button") if b.proto.label == "Download as GIF"]
    assert "320 px" in gif.proto.help
    (name,) = [n for n in downloads if n.startswith("digits_timelapse_")]
    image = Image.open(io.BytesIO(downloads[name][0]()))
    assert image.format == "GIF" and image.n_frames == len(figure_spec(app)["frames"])


def test_a_training_runs_time_lapse_is_found_in_its_folder(runs, monkeypatch, tmp_path):
    copy = tmp_path / "runs"
    shutil.copytree(runs / "default" / "digits", copy / "jobs" / "20250101-000000-0000abcd")
    app = fresh_app(copy, monkeypatch, timeout=60)
    open_timelapse(app, models="20250101-000000-0000abcd")
    assert app.query_params["models"] == "20250101-000000-0000abcd"
    assert_animated(figure_spec(app))


def test_a_run_without_a_time_lapse_says_how_to_get_one(runs, monkeypatch, tmp_path):
    copy = tmp_path / "runs"
    shutil.copytree(runs / "default", copy / "default")
    (copy / "default" / "digits" / FILENAME).unlink()
    app = fresh_app(copy, monkeypatch, timeout=60)
    open_timelapse(app)
    assert app.get("plotly_chart") == []
    (message,) = [i.value for i in app.info if "time-lapse" in i.value and "film" not in i.value]
    assert "trained before time-lapses were recorded" in message and "retrain" in message
