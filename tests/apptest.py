"""Shared by the AppTest modules: the app served from a runs folder of small default models."""

import json
import os
import time
from pathlib import Path

import pytest
import streamlit as st
from pairs import train_defaults
from streamlit.components.v2.bidi_component.main import _make_trigger_id
from streamlit.testing.v1 import AppTest

from training.data import load_dataset

APP = str(Path(__file__).resolve().parents[1] / "explorer" / "app.py")


def train_default_digits(runs: Path) -> None:
    """Small default digits models in runs/default/digits, so that pages open at once."""
    train_defaults(runs, load_dataset("digits"), epochs=5)


def train_small_faces(runs: Path, n: int = 300) -> None:
    """Quick faces models (32-D conv, 1 epoch on the first n faces) in runs/default/faces: poor
    images, but the pages open at once. Drawing all 20,000 faces (about 25 s, once per cache
    folder) comes first: the server needs them too."""
    train_defaults(runs, load_dataset("faces"), epochs=1, batch_size=64, first=n)


def fresh_app(runs: Path, monkeypatch: pytest.MonkeyPatch, timeout: float) -> AppTest:
    """The app on `runs`, opening on digits (unless a test sets LATENT_EXPLORER_DATASET
    itself: the app's own opening, faces, is tested in test_app_opening.py), with
    Streamlit's server-wide caches emptied (no models or data from another test's runs)."""
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(runs))
    if "LATENT_EXPLORER_DATASET" not in os.environ:
        monkeypatch.setenv("LATENT_EXPLORER_DATASET", "digits")
    st.cache_resource.clear()
    st.cache_data.clear()
    return AppTest.from_file(APP, default_timeout=timeout)


def runs_subfolder(runs: Path, folder_of, dataset: str = "digits") -> Path:
    """Where the server looks in runs for folder_of(dataset) (explorer/server/runs.py's
    ladder_folder, lineup_folder...), found with runs as the runs folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LATENT_EXPLORER_RUNS", str(runs))
        return folder_of(dataset)


def instrument_page(runs: Path, monkeypatch: pytest.MonkeyPatch, key: str) -> AppTest:
    """A fresh app on runs, switched to the Instruments page on ?instrument=key, unfailed."""
    at = fresh_app(runs, monkeypatch, timeout=60)
    at.run()
    at.query_params["instrument"] = key
    at.switch_page("views/instruments.py").run()
    assert not at.exception, at.exception
    return at


def shows_progress_then_trains(at: AppTest, intro: str, command: str, job_key) -> None:
    """The instrument's first use: intro in an info box, the command that prepares the set
    (its folder shown relative to the runs folder, never where the server keeps it), then the
    background task of job_key finishes within 2 minutes."""
    from explorer.ui import resources

    assert any(intro in info.value for info in at.info)
    assert any(command in c.value for c in at.caption)
    assert not any(os.environ["LATENT_EXPLORER_RUNS"] in e.value for e in [*at.caption, *at.info])
    job = resources.trainers().get(job_key)
    deadline = time.time() + 120
    while job.state().status == "training" and time.time() < deadline:
        time.sleep(0.5)
    assert job.state().status == "finished", job.state()


def class_app(runs: Path, monkeypatch: pytest.MonkeyPatch, key: str, folder: Path) -> Path:
    """The app on `runs` with teacher key `key` (a class) and a class database of its own in
    folder; returns the database's path."""
    from explorer.server import classdb, classroom

    monkeypatch.setenv(classroom.KEY_ENV, key)
    fresh_app(runs, monkeypatch, timeout=60)
    monkeypatch.setattr(classdb, "default_path", lambda: folder / "class.sqlite3")
    return folder / "class.sqlite3"


def as_browser(owner: str, key: str | None = None) -> AppTest:
    """A first run of the app as the browser `owner`; with key, once it entered the teacher key."""
    from explorer.ui import state, teacher

    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[state.OWNER] = owner
    at.run()
    if key is not None:
        at.text_input(key=teacher.KEY_FIELD).set_value(key)
        at.button(key=teacher.UNLOCK).click().run()
    return at


def open_instrument(app: AppTest, key: str) -> AppTest:
    """The Instruments page on ?instrument=key, after a first run of the app."""
    app.query_params["instrument"] = key
    app.run()
    app.switch_page("views/instruments.py").run()
    assert not app.exception
    assert app.query_params["instrument"] == key
    return app


# ---- the click listener's component (explorer/ui/click.py) as AppTest sees it ----


def component(at: AppTest, key: str):
    """The bidi component element (st.components.v2) with this key; None if not on the page."""
    return next((e for e in at.get("bidi_component") if e.key == key), None)


def component_data(at: AppTest, key: str = "latent_click") -> dict | None:
    """The JSON `data` the page sent to the component with this key; None if it is absent."""
    element = component(at, key)
    return None if element is None else json.loads(element.proto.json or "null")


def live_panel(at: AppTest, key: str = "latent_click") -> dict | None:
    """The live decode panel's data (explorer/web/live_view.panel_data) the browser draws;
    None where the server decodes (or the listener is absent)."""
    data = component_data(at, key)
    return None if data is None else data.get("live")


def send_trigger(at: AppTest, key: str, event: str, value) -> AppTest:
    """Run the app as if the browser's component `key` had sent `value` as trigger `event`
    (setTriggerValue(event, value) in click.js): its on_<event>_change callback runs first."""
    element = component(at, key)
    assert element is not None, f"no component {key!r} on the page"
    states = at._tree.get_widget_states()
    trigger = states.widgets.add()
    trigger.id = _make_trigger_id(element.proto.id, "events")
    trigger.json_trigger_value = json.dumps([{"event": event, "value": value}])
    return at._run(states)


# ---- downloads built on the click (st.download_button with a callable) ----


def deferred_downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple]:
    """file name -> (callable, mime type) of every download button given a callable from now
    on: AppTest cannot click one, so a test calls it as Streamlit would on the click."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    found = {}
    original = MediaFileManager.add_deferred

    def add_deferred(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        found[file_name] = (data_callable, mimetype)
        return original(self, data_callable, mimetype, coordinates, file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)
    return found
