"""The server's registry of its own training (explorer/server/trainers.py), with fake work: once
per key, a slot held while it runs, progress and failures recorded, no app."""

import threading
from types import SimpleNamespace

import pytest

from explorer.server import trainers as trainers_module
from explorer.server.slots import JobManager
from explorer.server.trainers import Trainers


@pytest.fixture
def trainers(tmp_path):
    return Trainers(JobManager(tmp_path / "jobs", max_running=2))


class FakeWork:
    """Work that reports halfway, then waits for release() and returns its result."""

    def __init__(self, result="trained", error: Exception | None = None):
        self.result, self.error, self.calls = result, error, 0
        self.halfway, self._go = threading.Event(), threading.Event()

    def __call__(self, task):
        self.calls += 1
        task.report("training the fake: epoch 1 of 2", 0.25)
        task.report("training the fake: epoch 1 of 2", 0.5)
        self.halfway.set()
        self._go.wait(10)
        if self.error is not None:
            raise self.error
        return self.result

    def release(self):
        self._go.set()


def test_a_key_trains_once_however_often_sessions_ask(trainers):
    work = FakeWork()
    tasks = [
        trainers.ensure(("fake", "digits"), "digits", work, "fake for digits") for _ in range(5)
    ]
    assert all(t is tasks[0] for t in tasks)
    work.release()
    assert tasks[0].join(10).status == "finished" and tasks[0].result == "trained"
    assert work.calls == 1
    assert trainers.get(("fake", "digits")) is tasks[0]


def test_a_labelled_task_holds_a_slot_listed_with_its_progress_until_it_ends(trainers):
    work = FakeWork()
    task = trainers.ensure(("fake", "digits"), "digits", work, "fake for digits")
    assert work.halfway.wait(10)
    (held,) = [job.state() for job in trainers.manager.running()]
    assert held.title == "fake for digits" and held.message == "training the fake: epoch 1 of 2"
    assert dict(held.progress) == {"all": (500, 1000)}
    state = task.state()
    assert (state.status, state.fraction, state.done) == ("training", 0.5, False)
    assert state.seconds_left is not None and state.seconds_left >= 0
    work.release()
    task.join(10)
    assert trainers.manager.running() == []
    assert [s.status for s in trainers.manager.states()] == ["finished"]


def test_an_unlabelled_task_holds_no_slot(trainers):
    work = FakeWork()
    task = trainers.ensure(("chain", "digits"), "digits", work)
    assert work.halfway.wait(10)
    assert trainers.manager.running() == []
    work.release()
    assert task.join(10).status == "finished"


def test_a_failure_is_recorded_with_its_message_and_the_next_ask_trains_again(trainers):
    failing = FakeWork(error=RuntimeError("the disk is full"))
    failing.release()
    task = trainers.ensure(("fake", "digits"), "digits", failing, "fake for digits")
    state = task.join(10)
    assert (state.status, state.message, state.done) == ("failed", "the disk is full", True)
    assert [s.status for s in trainers.manager.states()] == ["failed"]  # its slot says so too
    again = FakeWork()
    again.release()
    retried = trainers.ensure(("fake", "digits"), "digits", again, "fake for digits", keep=True)
    assert retried is not task and retried.join(10).status == "finished"


def test_a_finished_task_is_kept_only_when_its_result_lives_in_memory(trainers):
    first = FakeWork("first")
    first.release()
    task = trainers.ensure(("fake", "digits"), "digits", first, keep=True)
    task.join(10)
    assert trainers.ensure(("fake", "digits"), "digits", FakeWork(), keep=True) is task
    second = FakeWork("second")
    second.release()
    renewed = trainers.ensure(("fake", "digits"), "digits", second)  # e.g. its files removed
    assert renewed is not task and renewed.join(10).status == "finished"
    assert renewed.result == "second"


def test_the_time_left_is_measured_from_the_first_progress_not_the_start(trainers, monkeypatch):
    """Start-up (loading data, building and timing models) is not training: 30 s of it, then
    20 s from 10% to 30% done, leaves 70 s (20 s per 20%), not the 117 s that counting from the
    start gives."""
    clock = [1000.0]
    monkeypatch.setattr(trainers_module, "time", SimpleNamespace(time=lambda: clock[0]))
    reported, go = [threading.Event(), threading.Event()], threading.Event()

    def work(task):
        for (at, fraction), done in zip([(1030.0, 0.1), (1050.0, 0.3)], reported, strict=True):
            clock[0] = at
            task.report("training", fraction)
            done.set()
            go.wait(10)
            go.clear()

    task = trainers.ensure(("scripted", "digits"), "digits", work)
    assert reported[0].wait(10)
    assert task.state(now=1040.0).seconds_left is None  # one report: no rate yet
    go.set()
    assert reported[1].wait(10)
    assert task.state(now=1050.0).seconds_left == pytest.approx(70.0)
    assert task.state(now=1060.0).seconds_left == pytest.approx(105.0)  # slower since: 30 s/20%
    go.set()
    assert task.join(10).seconds_left == 0.0
