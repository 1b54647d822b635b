"""The Lesson page headless (AppTest): every step renders with its question, answer and reveal,
and the first answer counts, also on coming back to the step; the URL picks a step, bad values
fall back to the first; buttons move and stop at the ends."""

import pytest
from apptest import fresh_app, train_default_digits, train_small_faces

from explorer.core.lesson import STEPS, step_number
from training.config import TrainConfig
from training.data import load_dataset
from training.ladder import DEFAULT_BETAS, train_ladder

LESSON = "views/lesson.py"


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, shared_cache):
    """Default digits models with a quick beta ladder, and quick faces models for the smile."""
    path = tmp_path_factory.mktemp("runs")
    train_default_digits(path)
    train_ladder(
        load_dataset("digits"),
        DEFAULT_BETAS,
        TrainConfig(epochs=2, batch_size=128, precision="fp32"),
        path / "default" / "digits" / "ladder",
    )
    with pytest.MonkeyPatch.context() as mp:  # module scope: before the autouse cache fixture
        mp.setenv("LATENT_EXPLORER_CACHE", str(shared_cache))
        train_small_faces(path, n=1000)
    return path


@pytest.fixture(autouse=True)
def private_cache(shared_cache, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(shared_cache))
    return shared_cache


def lesson_at(runs, monkeypatch, step=None):
    at = fresh_app(runs, monkeypatch, timeout=120)
    at.run()
    if step is not None:
        at.query_params["lesson"] = step
    return at.switch_page(LESSON).run()


def answer(at, number: int, choice: int):
    at.radio(key=f"lesson_answer_{number}").set_value(choice).run()
    assert not at.exception, at.exception
    return at


def wrong_choice(number: int) -> int:
    question = STEPS[number - 1].question
    return (question.answer + 1) % len(question.choices)


@pytest.mark.parametrize("number", range(1, len(STEPS) + 1))
def test_every_step_asks_first_then_reveals_its_view(runs, monkeypatch, number):
    step = STEPS[number - 1]
    at = lesson_at(runs, monkeypatch, str(number))
    assert not at.exception, at.exception
    assert at.header[0].value == step.title
    assert at.query_params["lesson"] == str(number)
    assert at.radio(key=f"lesson_answer_{number}").options == list(step.question.choices)
    assert not at.get("plotly_chart") and not at.get("image")  # nothing shown before the answer
    answer(at, number, wrong_choice(number))
    assert at.error and step.question.reveal in at.error[0].value
    answered = at.radio(key=f"lesson_answered_{number}")  # the first answer counts:
    assert answered.disabled and answered.value == wrong_choice(number)  # no second pick
    shown = len(at.get("plotly_chart")) + len(at.get("image")) + len(at.table)
    assert shown or at.info, f"step {number} shows nothing"


def test_the_right_answer_says_so(runs, monkeypatch):
    at = lesson_at(runs, monkeypatch, "2")
    answer(at, 2, STEPS[1].question.answer)
    assert at.success[0].value.startswith("Right.") and not at.error


def test_an_answer_stays_when_the_step_is_left_and_opened_again(runs, monkeypatch):
    at = lesson_at(runs, monkeypatch, "1")
    answer(at, 1, wrong_choice(1))
    at.button(key="lesson_next").click().run()
    at.button(key="lesson_prev").click().run()
    assert at.radio(key="lesson_answered_1").value == wrong_choice(1)
    assert at.error and not at.success


def test_reveal_without_answering_shows_the_answer(runs, monkeypatch):
    at = lesson_at(runs, monkeypatch, "1")
    at.button(key="lesson_reveal_1").click().run()
    assert not at.exception
    answer_text = STEPS[0].question.choices[STEPS[0].question.answer]
    assert answer_text in at.info[0].value
    assert at.get("image")  # the reconstructions


def test_buttons_move_between_steps_and_stop_at_the_ends(runs, monkeypatch):
    at = lesson_at(runs, monkeypatch)
    assert at.query_params["lesson"] == "1"
    assert at.button(key="lesson_prev").disabled
    at.button(key="lesson_next").click().run()
    assert at.query_params["lesson"] == "2" and at.header[0].value == STEPS[1].title
    at.button(key="lesson_prev").click().run()
    assert at.query_params["lesson"] == "1"
    last = lesson_at(runs, monkeypatch, str(len(STEPS)))
    assert last.button(key="lesson_next").disabled


@pytest.mark.parametrize("raw", ["0", "11", "-1", "abc", "../../etc", "3\x00", "٣", "9" * 500])
def test_a_step_that_is_not_there_says_so_and_starts_at_the_first(runs, monkeypatch, raw):
    at = lesson_at(runs, monkeypatch, raw)
    assert not at.exception
    assert "There is no step" in at.warning[0].value
    assert at.header[0].value == STEPS[0].title


def test_step_number_reads_only_plain_numbers_in_range():
    assert [step_number(s, 10) for s in ("1", "10", "07")] == [1, 10, 7]
    for raw in (None, "", "0", "11", "+3", " 3", "3.0", "1e1", "٣", "9" * 9):
        assert step_number(raw, 10) is None, raw


def test_every_question_has_its_answer_among_its_choices():
    for step in STEPS:
        assert 0 <= step.question.answer < len(step.question.choices) >= 2, step.title
        assert step.text and step.question.reveal
