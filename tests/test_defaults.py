"""Each dataset's default pair trained by the server (explorer/server/defaults.py), no app."""

import pytest

from explorer.server import runs
from explorer.server.defaults import DefaultPairs, describe_time, progress_of
from explorer.server.slots import JobManager
from explorer.server.trainers import Trainers


@pytest.fixture
def pairs(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path / "runs"))
    manager = JobManager(runs.jobs_dir())
    manager.on_done = lambda job: (
        runs.publish_default(  # as the app's after_job does
            dict(job.state().checkpoints), job.spec.dataset, job.spec.stage
        )
        or []
    )
    return DefaultPairs(Trainers(manager), lambda: None)


@pytest.mark.slow
def test_the_preview_then_the_full_pair_train_once_however_often_pages_ask(pairs):
    for _ in range(3):
        pairs.ensure("digits", ("preview", "full"))
    preview = pairs.job("digits", "preview")
    assert preview is not None and preview.spec.stage == "preview"  # started at once
    assert preview.join(120).status == "finished"
    while pairs.job("digits", "full") is None:  # the chain starts it after the preview
        preview.join(0.05)
    for _ in range(20):  # every page run asks again while the full pair trains
        pairs.ensure("digits", ("preview", "full"))
    full = pairs.job("digits", "full")
    assert full.join(120).status == "finished"
    pairs.chain("digits").join(10)
    pairs.ensure("digits", ("preview", "full"))  # the full pair is there: nothing more
    assert [s.spec.stage for s in pairs.manager.states()] == ["preview", "full"]
    assert runs.has_pair(runs.default_folder("digits", "preview"))
    assert runs.has_pair(runs.default_folder("digits"))


@pytest.mark.slow
def test_a_dataset_without_a_preview_trains_its_full_pair_alone(pairs):
    pairs.ensure("digits", ("full",))
    assert pairs.job("digits", "full").join(120).status == "finished"
    assert pairs.job("digits", "preview") is None
    assert runs.has_pair(runs.default_folder("digits"))


def test_the_time_left_is_extrapolated_from_the_slower_model(pairs):
    class State:
        progress = {"ae": (100, 400), "vae": (200, 400)}
        started = 1000.0
        message = "training"

    done = progress_of(State(), now=1060.0)
    assert done.fraction == 0.25 and done.seconds_left == pytest.approx(180.0)
    assert describe_time(done.seconds_left) == "about 3 min left"
    assert describe_time(30) == "under a minute left"
    assert describe_time(None) == "estimating the time left"
    State.progress = {}
    assert progress_of(State(), now=1060.0).seconds_left is None
