"""The Train page headless (AppTest): training, cancelling, every job on the server listed with
whose it is, Cancel only on one's own (also after a reload), and the cap naming the jobs."""

import time

import pytest
import streamlit as st
from apptest import APP
from streamlit.testing.v1 import AppTest

from explorer.server.jobs import SERVER, JobSpec
from explorer.ui import resources, state

LONG_EPOCHS = 1000  # runs until the test cancels it


def train_page(owner: str | None = None) -> AppTest:
    """Another session on the Train page; with owner, the same browser (as after a reload)."""
    at = AppTest.from_file(APP, default_timeout=60)
    if owner is not None:
        at.session_state[state.OWNER] = owner
    at.run()
    at.switch_page("views/train.py").run()
    return at


def start_training(at: AppTest, epochs: int) -> None:
    at.number_input(key="train_epochs").set_value(epochs)
    at.button[0].click()  # the form's Train button
    at.run()
    assert not at.exception


def keyed(at: AppTest, prefix: str) -> list[str]:
    """Keys of the buttons whose key starts with prefix (one per job: cancel_<id>, open_<id>)."""
    return [b.key for b in at.button if (b.key or "").startswith(prefix)]


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def wait_for(at: AppTest, condition, timeout=90):
    """Rerun the app until condition(at) holds (a background job is polled by a fragment)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        at.run()
        if condition(at):
            return
        time.sleep(0.5)
    raise AssertionError("timed out waiting for the app")


@pytest.mark.slow
def test_training_in_the_app_finishes_and_opens_in_the_maps(app):
    app.run()
    app.switch_page("views/train.py").run()
    start_training(app, 3)
    wait_for(app, lambda a: any("Finished" in s for s in texts(a.success)))
    finished = next(s for s in texts(app.success) if "Finished" in s)
    assert "digits · mlp · 2-D · " in finished  # the run's title, as in the Models picker
    assert app.get("plotly_chart"), "loss curves are shown"
    [open_run] = keyed(app, "open_")
    app.button(key=open_run).click().run()
    assert app.query_params["models"] not in ("default", "upload")
    assert app.query_params["models"] == open_run.removeprefix("open_")


@pytest.mark.slow
def test_the_architecture_picker_trains_a_recurrent_pair(app):
    app.run()
    app.switch_page("views/train.py").run()
    picker = app.selectbox(key="train_arch")
    assert {"gru", "lstm"} <= set(picker.options)
    picker.select("gru")
    start_training(app, 1)
    wait_for(app, lambda a: any("Finished" in s for s in texts(a.success)))
    assert any("digits · gru · 2-D · " in s for s in texts(app.success))


@pytest.mark.slow
def test_training_can_be_cancelled_and_says_nothing_was_kept(app, runs):
    app.run()
    app.switch_page("views/train.py").run()
    start_training(app, LONG_EPOCHS)
    wait_for(app, lambda a: keyed(a, "cancel_"))
    [cancel] = keyed(app, "cancel_")
    app.button(key=cancel).click().run()
    wait_for(app, lambda a: any("Cancelled" in w for w in texts(a.warning)))
    [warning] = [w.replace("\\", "") for w in texts(app.warning) if "Cancelled" in w]
    assert "Cancelled; nothing was kept." in warning and "Cancelled: Cancelled" not in warning
    assert not (runs / "jobs" / cancel.removeprefix("cancel_")).exists()


@pytest.mark.slow
def test_every_job_is_listed_and_only_its_browser_can_cancel_it_even_after_a_reload(app):
    app.run()
    app.switch_page("views/train.py").run()
    start_training(app, LONG_EPOCHS)
    start_training(app, LONG_EPOCHS)  # one job per browser: the second is refused, naming it
    assert texts(app.error)[0].startswith("You already have a job training (digits · ")
    wait_for(app, lambda a: len(a.get("progress")) >= 1)
    [mine] = keyed(app, "cancel_")
    assert sum("(yours)" in m for m in texts(app.markdown)) == 1

    manager = resources.job_manager()
    manager.start(JobSpec(epochs=LONG_EPOCHS), "another browser")  # the cap: 2
    other = train_page()  # another student
    assert keyed(other, "cancel_") == []
    assert sum("(another session)" in m for m in texts(other.markdown)) == 2
    other.button[0].click()
    other.run()
    [error] = texts(other.error)
    assert error.startswith("2 jobs are training on this server (the limit is 2): digits · ")
    assert error.count("(another session)") == 2 and error.endswith("Wait for one to finish.")

    again = train_page(owner=app.session_state[state.OWNER])  # the same browser, reloaded
    assert keyed(again, "cancel_") == [mine]
    again.button(key=mine).click().run()
    wait_for(again, lambda a: any("Cancelled" in w for w in texts(a.warning)))
    assert keyed(again, "cancel_") == []
    assert not any("Cancelled" in w for w in texts(train_page().warning))  # not theirs


@pytest.mark.slow
def test_a_cancel_takes_away_the_refusal_the_running_job_caused(app):
    app.run()
    app.switch_page("views/train.py").run()
    start_training(app, LONG_EPOCHS)
    start_training(app, LONG_EPOCHS)
    assert texts(app.error)[0].startswith("You already have a job training")
    wait_for(app, lambda a: keyed(a, "cancel_"))
    app.button(key=keyed(app, "cancel_")[0]).click().run()
    wait_for(app, lambda a: "Nothing is training right now." in texts(a.caption))
    assert not app.error


@pytest.mark.slow
def test_a_job_that_ends_reruns_the_whole_page_once_so_its_run_is_listed(app, monkeypatch):
    # The job list is a fragment polled alone in a browser; AppTest runs the whole page every
    # time, so the test records the fragment's request for a whole-page rerun instead.
    reruns = []
    monkeypatch.setattr(st, "rerun", lambda scope="app": reruns.append(scope))
    app.run()
    app.switch_page("views/train.py").run()
    start_training(app, 20)
    [job] = resources.job_manager().states()
    wait_for(app, lambda a: keyed(a, "open_"))
    for _ in range(3):
        app.run()
    assert reruns == ["app"]
    assert f"delete_{job.id}" in keyed(app, "delete_")  # the runs list shows it


@pytest.mark.slow
def test_delete_asks_first_and_the_deleted_run_leaves_your_results(app, runs):
    app.run()
    app.switch_page("views/train.py").run()
    start_training(app, 2)
    wait_for(app, lambda a: keyed(a, "open_"))
    run_id = keyed(app, "open_")[0].removeprefix("open_")
    app.button(key=f"delete_{run_id}").click().run()
    assert (runs / "jobs" / run_id).is_dir(), "not deleted before the Yes"
    assert "Delete this run? Its files go for good." in texts(app.markdown)
    assert any(
        m.startswith("digits · mlp · 2-D · 2 epochs · beta 1 · ") for m in texts(app.markdown)
    )
    app.button(key=f"keep_{run_id}").click().run()
    assert f"confirm_delete_{run_id}" not in keyed(app, "confirm_delete_")
    app.button(key=f"delete_{run_id}").click().run()
    app.button(key=f"confirm_delete_{run_id}").click().run()
    assert not (runs / "jobs" / run_id).exists()
    assert keyed(app, "open_") == [] and f"delete_{run_id}" not in keyed(app, "delete_")
    assert any(i.startswith("Finished, then deleted: digits") for i in texts(app.info))


def test_the_default_models_job_is_listed_as_such_without_cancel(app):
    app.run()
    resources.job_manager().start(JobSpec(epochs=LONG_EPOCHS), SERVER)
    app.switch_page("views/train.py").run()
    assert not app.exception
    assert any(m.startswith("**default models for digits") for m in texts(app.markdown))
    assert keyed(app, "cancel_") == []


def test_the_concurrent_training_cap_gives_a_clear_message(app):
    app.run()
    manager = resources.job_manager()
    for i in range(manager.max_running):
        manager.start(JobSpec(epochs=LONG_EPOCHS), f"another browser {i}")
    app.switch_page("views/train.py").run()
    app.button[0].click()
    app.run()
    assert any("limit is 2" in e and "(another session)" in e for e in texts(app.error))


def test_the_owner_id_follows_the_browsers_xsrf_token_not_the_cookie_text():
    token, another_token = bytes(range(16)), bytes(range(1, 17))

    def cookie(mask: bytes, token: bytes = token) -> str:  # Streamlit's: 2|mask|masked|time
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(token))
        return f"2|{mask.hex()}|{masked.hex()}|1700000000"

    first, reloaded = cookie(b"\x01\x02\x03\x04"), cookie(b"\xaa\xbb\xcc\xdd")
    assert first != reloaded  # the server re-masks the cookie on every response
    owner = state.owner_from_cookie(first)
    assert owner == state.owner_from_cookie(reloaded) == state.owner_from_cookie(token.hex())
    assert owner != state.owner_from_cookie(cookie(b"\x01\x02\x03\x04", another_token))
    assert token.hex() not in owner and first not in owner
    for bad in (None, "", "2|zz|00|1", "2|01020304||1", "3|a|b", "nothex"):
        assert state.owner_from_cookie(bad) is None
