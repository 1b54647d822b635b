"""The teacher key in the app (AppTest): without a key the app is a personal machine's; with one,
students explore while training, uploads and the runs folder wait for the key, entered once per
browser; the teacher publishes a class default, deletes runs and removes interrupted ones; and
the per-browser limits (one job, an upload rate)."""

import json
import shutil

import pytest
from apptest import APP, fresh_app
from streamlit.testing.v1 import AppTest

from explorer.server import classroom, runs
from explorer.ui import state, teacher, uploads

KEY = "owl-42"
RUN = "20261201-101500-0123abcd"  # a finished run: a copy of the default digits pair
CUT = "20261130-111500-89abcdef"  # an interrupted one: its AE saved, the server killed after


@pytest.fixture
def class_runs(runs, tmp_path, monkeypatch):
    """A runs folder of its own (tests delete in it): the default pair, one finished run and
    one interrupted run; served afresh, with no teacher key unless a test sets one."""
    root = tmp_path / "runs"
    shutil.copytree(runs / "default", root / "default")
    shutil.copytree(runs / "default" / "digits", root / "jobs" / RUN)
    (root / "jobs" / CUT).mkdir()
    shutil.copy(runs / "default" / "digits" / "ae.safetensors", root / "jobs" / CUT)
    monkeypatch.delenv(classroom.KEY_ENV, raising=False)
    fresh_app(root, monkeypatch, timeout=60)  # empties the server's caches for this folder
    return root


@pytest.fixture
def with_key(class_runs, monkeypatch):
    monkeypatch.setenv(classroom.KEY_ENV, KEY)
    return class_runs


def session(page: str | None = None, owner: str | None = None) -> AppTest:
    """A browser session (owner: the same browser as an earlier one), on page after a first run."""
    at = AppTest.from_file(APP, default_timeout=60)
    if owner is not None:
        at.session_state[state.OWNER] = owner
    at.run()
    if page is not None:
        at.switch_page(page).run()
    assert not at.exception
    return at


def unlock(at: AppTest, key: str = KEY) -> AppTest:
    at.text_input(key=teacher.KEY_FIELD).set_value(key)
    at.button(key=teacher.UNLOCK).click().run()
    assert not at.exception
    return at


def keys(at: AppTest, prefix: str) -> list[str]:
    return [b.key for b in at.button if (b.key or "").startswith(prefix)]


def text(at: AppTest) -> str:
    parts = [*at.caption, *at.info, *at.error, *at.warning, *at.markdown]
    return "\n".join(e.value for e in parts)


def can_train(at: AppTest) -> bool:
    return any(w.key == "train_epochs" for w in at.number_input)


def test_without_a_key_it_is_a_personal_machine_everyone_trains_and_manages_runs(class_runs):
    at = session("views/train.py")
    assert can_train(at)
    assert not any(w.key == teacher.KEY_FIELD for w in at.text_input)  # no Teacher box
    assert keys(at, "publish_") == [f"publish_{RUN}"]
    assert keys(at, "remove_") == [f"remove_{CUT}"]


def test_with_a_key_students_explore_but_cannot_train_upload_or_manage_runs(with_key):
    at = session()
    assert len(at.get("plotly_chart")) == 2  # the maps, as ever
    at.switch_page("views/train.py").run()
    assert not can_train(at)
    assert "Only the teacher can train models" in text(at)
    assert keys(at, "publish_") == keys(at, "delete_") == keys(at, "remove_") == []
    at.switch_page("views/explore.py").run()
    at.selectbox(key="models").set_value("upload").run()
    assert "Only the teacher can upload checkpoints" in text(at)
    assert not at.get("file_uploader")


def test_a_wrong_key_is_refused_and_a_sixth_try_within_a_minute_must_wait(with_key):
    at = session("views/train.py")
    for _ in range(teacher.WRONG_TRIES):
        assert "That is not the teacher key." in [e.value for e in unlock(at, "owl-41").error]
    assert "Too many wrong keys" in unlock(at, KEY).error[0].value  # even the right one, now
    assert not can_train(at)
    assert can_train(unlock(session("views/train.py")))  # another browser is not held up


def test_wrong_keys_from_fresh_browsers_trip_the_servers_limit_which_says_so(with_key, monkeypatch):
    monkeypatch.setattr(teacher, "SERVER_WRONG_TRIES", teacher.WRONG_TRIES + 1)  # 30: slow
    first, second = session("views/train.py"), session("views/train.py")
    for _ in range(teacher.WRONG_TRIES):
        unlock(first, "owl-41")
    assert "That is not the teacher key." in unlock(second, "owl-41").error[0].value
    third = unlock(session("views/train.py"))  # a fresh browser, even with the right key
    assert "Too many wrong keys on this server, from all browsers" in third.error[0].value
    assert not can_train(third)


@pytest.mark.parametrize(
    ("variable", "secret"),
    [("", None), ("  ", None), (f" {KEY}", None), (None, ""), (None, KEY + "\n")],
)
def test_where_the_server_cannot_stop_a_bad_key_setting_shows_why_and_nothing_else(
    class_runs, monkeypatch, variable, secret
):
    # A real server stops instead (tests/test_teacher_start.py); AppTest runs in this process.
    if variable is not None:
        monkeypatch.setenv(classroom.KEY_ENV, variable)
    at = AppTest.from_file(APP, default_timeout=60)
    if secret is not None:
        at.secrets["teacher_key"] = secret
    at.run()
    where = classroom.KEY_ENV if variable is not None else "teacher_key in Streamlit's secrets"
    assert len(at.error) == 1
    assert at.error[0].value.startswith(f"The teacher key's setting is wrong: {where}")
    assert not at.get("plotly_chart") and not at.sidebar and not at.text_input
    at.switch_page("views/train.py").run()
    assert not can_train(at) and len(at.error) == 1


def test_the_key_unlocks_once_per_browser_until_locked(with_key):
    at = unlock(session("views/train.py"))
    assert can_train(at) and keys(at, "publish_") == [f"publish_{RUN}"]
    owner = at.session_state[state.OWNER]
    again = session("views/train.py", owner=owner)  # a reload: the same browser
    assert can_train(again)
    again.button(key=teacher.LOCK).click().run()
    assert not can_train(session("views/train.py", owner=owner))
    assert not can_train(session("views/train.py"))  # other browsers never were unlocked


def test_the_teacher_publishes_a_run_as_every_students_default_and_unpublishes_it(with_key):
    at = unlock(session("views/train.py"))
    at.button(key=f"publish_{RUN}").click().run()
    assert classroom.published() == {"digits": RUN}
    assert f"unpublish_{RUN}" in keys(at, "unpublish_")
    student = session()
    picker = student.selectbox(key="models")
    assert picker.value == "default"
    assert picker.format_func("default").startswith("class default: mlp · 2-D · ")
    assert len(student.get("plotly_chart")) == 2 and not student.error
    at.button(key=f"unpublish_{RUN}").click().run()
    assert classroom.published() == {}
    assert session().selectbox(key="models").format_func("default").startswith("default (")


def test_the_teacher_deletes_a_run_and_removes_an_interrupted_one(with_key):
    at = unlock(session("views/train.py"))
    assert "interrupted" in text(at)
    at.button(key=f"remove_{CUT}").click().run()
    assert not (with_key / "jobs" / CUT).exists()
    at.button(key=f"delete_{RUN}").click().run()
    assert (with_key / "jobs" / RUN).exists(), "Delete asks first"
    at.button(key=f"confirm_delete_{RUN}").click().run()
    assert not (with_key / "jobs" / RUN).exists()
    assert runs.has_pair(with_key / "default" / "digits")  # the defaults are never listed
    assert keys(at, "delete_") == keys(at, "remove_") == []
    assert RUN not in session().selectbox(key="models").options


def test_one_job_per_browser_the_second_is_refused_naming_the_first(class_runs):
    at = session("views/train.py")
    for _ in range(2):
        at.number_input(key="train_epochs").set_value(1000)
        at.button[0].click().run()
    assert "You already have a job training" in at.error[0].value
    at.button(key=keys(at, "cancel_")[0]).click().run()


def test_uploads_over_the_rate_are_refused_with_the_wait(class_runs):
    at = session("views/concepts.py")
    for i in range(uploads.UPLOADS_PER_MINUTE + 1):
        bad = json.dumps({"not": "concepts", "n": i}).encode()
        at.file_uploader(key="import_concepts").set_value((f"c{i}.json", bad, "application/json"))
        at.run()
        assert not at.exception
    assert "At most 10 uploads a minute: try again in" in at.error[-1].value


def test_the_key_may_come_from_streamlits_secrets(class_runs):
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["teacher_key"] = KEY
    at.run()
    at.switch_page("views/train.py").run()
    assert not can_train(at)
    assert can_train(unlock(at))
