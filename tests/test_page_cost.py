"""What a page open costs the server: the work a class of sessions would repeat is done once.
(Timings: benchmarks/app_load.py; these pin the levers, not the milliseconds.)"""

import tomllib

from apptest import APP
from conftest import REPO_ROOT
from streamlit.testing.v1 import AppTest

from explorer.core import figures
from explorer.ui import resources


def test_the_server_watches_no_source_files_and_skips_the_per_run_garbage_collection():
    # Each new session's file watcher walked every loaded module's path: 250-350 ms of CPU per
    # page open, most of an open's cost (docs/design.md, Design notes).
    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"
    assert config["runner"]["postScriptGC"] is False


def test_a_second_session_opening_explore_builds_no_map(app, monkeypatch):
    app.run()
    assert not app.exception and len(app.get("plotly_chart")) == 2
    built, build = [], figures.latent_map
    monkeypatch.setattr(figures, "latent_map", lambda *a: built.append(a) or build(*a))
    other = AppTest.from_file(APP, default_timeout=60)  # same server caches, new session
    other.run()
    assert not other.exception and len(other.get("plotly_chart")) == 2 and not built
    other.toggle(key="with_pca").set_value(True).run()
    assert len(other.get("plotly_chart")) == 3 and len(built) == 1  # only PCA's, once


def test_blas_threads_are_limited_again_only_after_new_imports(monkeypatch):
    calls = []
    monkeypatch.setattr(resources, "threadpool_limits", calls.append)
    monkeypatch.setattr(resources, "_modules_when_limited", 0)
    resources.limit_threads()
    resources.limit_threads()
    assert calls == [1]
    monkeypatch.setattr(resources, "_modules_when_limited", 1)  # as if a module was imported
    resources.limit_threads()
    assert calls == [1, 1]
