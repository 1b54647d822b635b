"""Draw and encode on Explore headless (AppTest): the pad gets both encoders; in a class a
student's "Send to the class map" stores the drawing, encoded again on the server (one per
student, the latest wins), and it shows on the teacher's class map; what a browser could forge
(a wrong size, a 10 MB list, numbers out of range, NaN, text) is refused in one line and stores
nothing; without a teacher key there is nothing to send to."""

import json

import numpy as np
import pytest
from apptest import as_browser, class_app, component_data, fresh_app, send_trigger
from streamlit.testing.v1 import AppTest

from explorer.server import classdb
from explorer.ui import draw
from explorer.web.web_decoder import read_header
from training.checkpoints import load_checkpoint
from training.evaluate import encode_all

KEY = "owl-42"
SEVEN = [0] * 8 + [0, 255, 255, 255, 255, 255, 0, 0] + [0, 0, 0, 0, 200, 0, 0, 0] * 6


@pytest.fixture
def class_db(runs, tmp_path, monkeypatch):
    return class_app(runs, monkeypatch, KEY, tmp_path)


def explore(owner: str, key: str | None = None, drawing: bool = True) -> AppTest:
    at = as_browser(owner, key)
    if drawing:
        at.toggle(key="draw").set_value(True).run()
    assert not at.exception
    return at


def send(at: AppTest, pixels) -> AppTest:
    send_trigger(at, draw.PAD_KEY, "send", {"pixels": pixels})
    assert not at.exception
    return at


def toasts(at: AppTest) -> str:
    return " ".join(t.value for t in at.toast)


def test_the_pad_gets_both_encoders_and_the_datasets_shape(class_db):
    at = explore("b-student")
    pad = component_data(at, draw.PAD_KEY)["draw"]
    assert pad["shape"] == [1, 8, 8] and pad["grey"] and pad["sendable"]
    weights = next(e for e in at.get("bidi_component") if e.key == "draw_weights")
    header = read_header(weights.proto.bytes)  # the bundle the pad names, with encoders
    assert [header["id"]] == pad["live"]["bundles"]
    assert all(model["encoder"] for model in header["models"].values())


def test_a_sent_drawing_is_encoded_on_the_server_and_lands_on_the_teachers_map(class_db, runs):
    student = explore("b-student")
    send(student, [0] * 64)
    send(student, SEVEN)  # the latest wins
    assert "Sent" in toasts(student)
    (stored,) = classdb.ClassDB(class_db).drawings("digits")
    assert stored.owner == "b-student" and stored.image.ravel().tolist() == SEVEN
    image = np.array(SEVEN, np.float32).reshape(1, 1, 8, 8) / 255
    for kind in ("ae", "vae"):  # the server's own encoding (the VAE's mean), not the page's
        model = load_checkpoint(runs / "default" / "digits" / f"{kind}.safetensors").model
        np.testing.assert_allclose(stored.codes[kind], encode_all(model, image)[0], atol=1e-5)

    teacher_at = explore("b-teacher", key=KEY, drawing=False)
    class_charts = [c for c in teacher_at.get("plotly_chart") if "class_map_" in c.proto.id]
    assert len(class_charts) == 2
    assert any("1 drawing on digits" in c.value for c in teacher_at.caption)
    for chart in class_charts:
        spec = json.loads(chart.proto.spec)
        assert len(spec["layout"]["images"]) == 1  # the drawing's picture at its point
        assert spec["data"][-1]["hovertext"][0].startswith("student 1")
    teacher_at.button(key="class_map_clear").click().run()
    assert classdb.ClassDB(class_db).drawings("digits") == ()


@pytest.mark.parametrize(
    "pixels, says",
    [
        (SEVEN[:63], "must be 64 pixel values, got 63"),
        ([255] * 2_500_000, "must be 64 pixel values, got 2500000"),  # 10 MB of JSON
        (SEVEN[:-1] + [256], "whole numbers from 0 to 255"),
        (SEVEN[:-1] + [-1], "whole numbers from 0 to 255"),
        (SEVEN[:-1] + [float("nan")], "whole numbers from 0 to 255"),
        (SEVEN[:-1] + [0.5], "whole numbers from 0 to 255"),
        (SEVEN[:-1] + [True], "whole numbers from 0 to 255"),
        ("'; DROP TABLE drawings; --", "got str"),
        (None, "got NoneType"),
        ({"pixels": SEVEN, "codes": {"ae": [1e9, 1e9]}}, "got dict"),  # a nested forgery
    ],
)
def test_a_forged_drawing_is_refused_in_one_line_and_stores_nothing(class_db, pixels, says):
    at = send(explore("b-student"), pixels)
    assert "Not sent: a drawing" in toasts(at) and says in toasts(at)
    assert "\n" not in toasts(at)
    assert classdb.ClassDB(class_db).drawings("digits") == ()


def test_without_a_teacher_key_the_pad_draws_but_sends_nowhere(runs, monkeypatch, tmp_path):
    fresh_app(runs, monkeypatch, timeout=60)
    monkeypatch.setattr(classdb, "default_path", lambda: tmp_path / "class.sqlite3")
    at = explore("b-student")
    assert component_data(at, draw.PAD_KEY)["draw"]["sendable"] is False
    send(at, SEVEN)
    assert not toasts(at) and not (tmp_path / "class.sqlite3").exists()


def test_a_send_that_is_not_a_drawing_at_all_is_refused_in_one_line(class_db):
    at = explore("b-student")
    send_trigger(at, draw.PAD_KEY, "send", "just text")
    assert "Not sent: a drawing must be 64 pixel values, got str" in toasts(at)
    assert classdb.ClassDB(class_db).drawings("digits") == ()
