"""The Lesson's live polls headless (AppTest): with a teacher key, students' first answers land in
the class database and in the teacher's tally, the right answer shows only after the teacher's
reveal, which opens the view on every student's screen; the teacher brings everyone to a step
and clears the class; without a key, or with a broken database, the Lesson runs without polls."""

import io
import json
from datetime import datetime

import pytest
from apptest import as_browser, class_app, deferred_downloads, fresh_app
from PIL import Image
from streamlit.testing.v1 import AppTest

from explorer.core.lesson import STEPS
from explorer.server import classdb
from explorer.ui import lesson

KEY = "owl-42"
LESSON = "views/lesson.py"
TALLY = "poll_tally_1"


@pytest.fixture
def class_runs(runs, tmp_path, monkeypatch):
    """The default digits models, with a class database of this test's own."""
    return class_app(runs, monkeypatch, KEY, tmp_path)


def on_lesson(owner: str, step: int = 1, key: str | None = None) -> AppTest:
    """A browser (owner) on the Lesson's step; with key, a teacher who entered it."""
    at = as_browser(owner, key)
    at.query_params["lesson"] = step
    at.switch_page(LESSON).run()
    assert not at.exception
    return at


def answer(at: AppTest, step: int, choice: int) -> AppTest:
    at.radio(key=lesson.answer_key(step)).set_value(choice).run()
    assert not at.exception
    return at


def tally_counts(at: AppTest) -> tuple[list[int], list[str]]:
    """The teacher's tally chart: counts and bar colours, from the figure the page sent."""
    chart = next(c for c in at.get("plotly_chart") if TALLY in c.proto.id)
    bar = json.loads(chart.proto.spec)["data"][0]
    return bar["x"], bar["marker"]["color"]


def captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


def test_answers_reach_the_tally_and_the_reveal_opens_every_view(class_runs):
    question = STEPS[0].question
    teacher_at = on_lesson("b-teacher", key=KEY)
    students = [on_lesson(f"b-student{i}") for i in range(3)]
    assert "0 of 3 have answered" in captions(students[0].run())  # the teacher is not counted
    answer(students[0], 1, 2)
    answer(students[1], 1, 0)
    teacher_at.run()
    counts, colours = tally_counts(teacher_at)
    assert counts == [1, 0, 1]
    assert len(set(colours)) == 1  # nothing marks the right answer before the reveal
    # a student who answered waits for the reveal: no verdict, no view
    assert not students[0].success and not students[0].error
    assert students[0].button(key="lesson_reveal_1").label == "Show it now"
    assert "2 of 3 have answered" in captions(students[2].run())

    teacher_at.button(key="lesson_reveal_1").click().run()
    counts, colours = tally_counts(teacher_at)
    assert colours[question.answer] != colours[0]  # the right one is marked now
    assert "1 of 2 answered it right" in teacher_at.info[0].value
    students[0].run()
    assert students[0].success  # answered right: the verdict and the view, without a click
    students[1].run()
    assert students[1].error
    assert classdb.ClassDB(class_runs).tally(1, 3, question.answer).counts == (1, 0, 1)


def test_only_the_first_answer_counts_and_a_reload_keeps_it(class_runs):
    at = answer(on_lesson("b-student"), 1, 0)
    assert at.radio(key=lesson.answer_key(1, done=True)).disabled
    again = on_lesson("b-student")  # the same browser reloads: a new session
    assert again.radio(key=lesson.answer_key(1, done=True)).value == 0
    assert classdb.ClassDB(class_runs).answer_of(1, "b-student") == 0


def test_the_teacher_brings_everyone_to_a_step_once(class_runs):
    student = on_lesson("b-student", step=1)
    teacher_at = on_lesson("b-teacher", step=4, key=KEY)
    teacher_at.button(key="poll_bring").click().run()
    student.run()
    assert student.header[0].value == STEPS[3].title
    student.button(key="lesson_prev").click().run()  # the student may wander off afterwards
    assert student.header[0].value == STEPS[2].title


def test_clearing_the_class_forgets_answers_and_lets_students_answer_again(class_runs):
    student = answer(on_lesson("b-student"), 1, 0)
    teacher_at = on_lesson("b-teacher", key=KEY)
    teacher_at.button(key="poll_clear").click().run()
    assert classdb.ClassDB(class_runs).tally(1, 3, 0).answered == 0
    student.run()
    assert student.radio(key=lesson.answer_key(1)).value is None
    answer(student, 1, 2)
    assert classdb.ClassDB(class_runs).answer_of(1, "b-student") == 2


def test_a_broken_class_database_says_so_in_one_line_and_the_lesson_goes_on(class_runs):
    class_runs.write_bytes(b"this is not a database" * 100)
    at = on_lesson("b-student")
    assert any("Class polls are off" in w.value for w in at.warning)
    answer(at, 1, 2)
    assert at.success  # the Lesson as without a class: the answer shows the view


def test_without_a_teacher_key_there_are_no_polls(runs, monkeypatch, tmp_path):
    fresh_app(runs, monkeypatch, timeout=60)
    monkeypatch.setattr(classdb, "default_path", lambda: tmp_path / "class.sqlite3")
    at = answer(on_lesson("b-student"), 1, 2)
    assert "have answered" not in captions(at)
    assert at.success
    assert not (tmp_path / "class.sqlite3").exists()


@pytest.mark.browser
def test_the_teacher_downloads_the_tally_for_a_slide(class_runs, monkeypatch, exporter):
    downloads = deferred_downloads(monkeypatch)
    answer(on_lesson("b-student"), 1, 2)
    on_lesson("b-teacher", key=KEY)
    build, mime = downloads[f"digits_poll-step-1_{datetime.now().date().isoformat()}.png"]
    image = Image.open(io.BytesIO(build()))  # as Streamlit calls it on the click
    assert mime == "image/png" and image.size == (4000, 2250)
    svg = downloads[f"digits_poll-step-1_{datetime.now().date().isoformat()}.svg"][0]()
    assert b"1 of 1 have answered" in svg
