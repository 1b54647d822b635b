"""The class load benchmark (benchmarks/class_load.py), small and quick: a real server with a
teacher key, 8 simulated students answering a Lesson poll over 2 s (one floods 100 answers, two
change their answer) while the teacher's tally reruns, then each sending a drawing from the pad
on Explore while a second teacher tab watches the class map, forged radio values and drawings,
then SIGKILL in the middle of a second poll and a restart. Correctness only: the timings are the
benchmark's to print, not this test's to judge."""

from __future__ import annotations

import pytest

from benchmarks import class_draw, class_load
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


def test_every_drawing_sent_from_the_pad_is_stored_once_as_the_student_drew_it(summary):
    assert summary.drawings.toasts == {"Sent": 8}
    drawn = summary.drawings.checks
    assert drawn.rows == 8
    assert drawn.foreign == drawn.wrong_image == drawn.bad_codes == drawn.missing == 0
    assert len(summary.drawings.send_s) == len(summary.drawings.send_run_s) == 8


def test_the_teachers_class_map_showed_every_drawing(summary):
    assert summary.drawings.not_on_map == 0
    assert len(summary.drawings.map_latency_s) == 8
    assert all(0 < s < 30 for s in summary.drawings.map_latency_s)
    assert summary.drawings.maps[-1].count == 8 and summary.drawings.maps[-1].images == (8, 8)


def test_forged_drawings_are_not_sent_store_nothing_and_raise_nothing(summary):
    assert set(summary.drawings.forged) == set(class_draw.FORGED)
    for result in summary.drawings.forged.values():
        assert result == "a 'Not sent' toast, no problem, stored: nothing"


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
