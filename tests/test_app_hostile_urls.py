"""Hostile URL parameters (issue 12's security review, first part): traversal, NUL bytes, very
long values and unicode in every parameter the app reads. Each page still opens on what is on
the server, says in one line what it did not take, and names no path outside the runs and data
folders (the pickers only accept values from their own lists)."""

import pytest
from apptest import live_panel

HOSTILE = [
    "../../etc/passwd",
    "/etc/passwd",
    "digits\x00.safetensors",
    "x" * 5000,
    "数字",
    "%2e%2e%2f",
]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("param", ["dataset", "models"])
def test_a_hostile_dataset_or_run_in_the_url_opens_the_default(app, param, value):
    app.query_params[param] = value
    app.run()
    assert not app.exception
    assert app.selectbox(key="dataset").value == "digits"
    assert app.selectbox(key="models").value == "default"
    (warning,) = [w.value for w in app.warning]
    assert "which is not on this server" in warning
    assert len(warning) < 300 and "\x00" not in warning  # one line, the value cut short
    assert "/etc" not in app.query_params[param]  # the URL now names what is shown


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_instrument_in_the_url_opens_the_first_one(app, value):
    app.query_params["instrument"] = value
    app.run()
    app.switch_page("views/instruments.py").run()
    assert not app.exception
    assert app.query_params["instrument"] == "ellipses"
    (warning,) = [w.value for w in app.warning]
    assert warning.startswith("There is no instrument") and len(warning) < 200


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_point_in_the_url_is_refused_and_the_first_point_shown(app, value):
    app.query_params["point"] = value
    app.run()
    assert not app.exception
    assert live_panel(app)["pinned"]["index"] == 0
    (warning,) = [w.value for w in app.warning]
    assert "The link's point is not used" in warning and len(warning) < 300
