"""The class load benchmark (benchmarks/class_load.py), small and quick: a real server with a
teacher key, 8 simulated students answering a Lesson poll over 2 s (one floods 100 answers, two
change their answer) while the teacher's tally reruns, drawings written beside the server, forged
radio values, then SIGKILL in the middle of a second poll and a restart. Correctness only: the
timings are the benchmark's to print, not this test's to judge."""

from __future__ import annotations

import pytest

from benchmarks import class_load
from benchmarks.app_load import parse_args

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def summary() -> class_load.Summary:
    args = parse_args(
        ["--class", "--students", "8", "--spread-s", "2", "--flood", "100", "--twice", "2"]
    )
    return class_load.run(args)


def test_every_answer_is_stored_once_with_the_first_choice(summary):
    poll = summary.poll
    assert summary.errors == []
    assert (poll.rows, poll.lost, poll.double, poll.wrong, poll.foreign) == (8, 0, 0, 0, 0)
    assert summary.tally_total == 8
    assert summary.answers_sent == 8 + 99 + 2  # the flood's 100 and the two changed answers


def test_the_teacher_saw_every_answer_and_each_has_a_latency(summary):
    assert summary.not_in_tally == 0
    assert len(summary.latency_s) == 8
    assert all(0 < s < 30 for s in summary.latency_s)


def test_drawings_written_beside_the_server_are_all_there(summary):
    assert summary.drawing_failures == []
    assert summary.drawings == 8


def test_forged_radio_values_store_nothing_and_a_wrong_label_shows_no_exception(summary):
    assert set(summary.forged) == set(class_load.FORGED)
    assert all(result.endswith("stored: nothing") for result in summary.forged.values())
    assert summary.forged_problems["a label no option has"] == []
    assert summary.forged_problems["an SQL-looking string"] == []


def test_a_kill_9_loses_no_committed_answer_and_counts_none_twice(summary):
    kill = summary.kill_checks
    assert summary.kill["committed before the kill"] >= 1  # the kill came after some answers
    assert kill.lost == kill.double == kill.wrong == kill.foreign == 0
    assert kill.rows >= summary.kill["committed before the kill"]
    assert summary.kill["restarted teacher's tally"] == kill.rows
