"""The Lesson page's controls: the step from the URL, the keyboard, presenter mode's style."""

from __future__ import annotations

import streamlit as st

from explorer.core.display import markdown_text
from explorer.core.lesson import STEPS, Question, step_number
from explorer.ui import polls, state
from explorer.ui.polls import ClassPoll
from explorer.web import modules

STEP_PARAM, PRESENT_PARAM = "lesson", "present"

_keys = st.components.v2.component(
    "latent_explorer_lesson_keys",
    html="<div></div>",
    js=modules.read("lesson_keys.js"),
)

PRESENTER_CSS = modules.read("presenter.css")


def presenting() -> bool:
    """?present=1: presenter mode, styled by presenter.css."""
    if st.query_params.get(PRESENT_PARAM) != "1":
        return False
    st.html(f"<style>{PRESENTER_CSS}</style>")
    return True


def current_step() -> int:
    """The 1-based step: ?lesson=N, else this session's last, else 1. A value that is not a
    step says so in one line."""
    raw = st.query_params.get(STEP_PARAM)
    number = step_number(raw)
    if raw is not None and number is None:
        asked = markdown_text(repr(raw[:20]))  # the URL's words, shown literally
        st.warning(
            f"There is no step {asked} in this lesson (1 to {len(STEPS)}): starting at the first."
        )
    number = number or st.session_state.get(state.LESSON_STEP, 1)
    go_to(number)
    return number


def go_to(number: int) -> None:
    number = min(max(number, 1), len(STEPS))
    st.session_state[state.LESSON_STEP] = number
    st.query_params[STEP_PARAM] = str(number)


def move(by: int) -> None:
    go_to(st.session_state.get(state.LESSON_STEP, 1) + by)


def answer_key(number: int, done: bool = False) -> str:
    """The key of step `number`'s radio; once done (answered or revealed), of the disabled one."""
    return f"lesson_{'answered' if done else 'answer'}_{number}"


def record(number: int, question: Question, poll: ClassPoll | None) -> None:
    """The radio's callback: keep the first answer to step `number`, apart from the radio's own
    state, which Streamlit drops when the step is left; in a class, send it to the poll."""
    picked = st.session_state[answer_key(number)]
    # A forged message can send a label no option has, which the radio passes on as it came
    # (a string, a number out of range): unanswered, like None, so nothing is kept or stored.
    if type(picked) is int and 0 <= picked < len(question.choices):
        st.session_state.setdefault(state.LESSON_ANSWERS, {}).setdefault(number, picked)
        if poll is not None:
            polls.send(poll, number, picked, len(question.choices))


def answer(number: int) -> int | None:
    """The first choice given to step `number` in this session, or None."""
    return st.session_state.get(state.LESSON_ANSWERS, {}).get(number)


def ask(number: int, question: Question, poll: ClassPoll | None = None) -> None:
    """Step `number`'s question as a radio group. Once answered (or revealed) it is drawn
    disabled, under another key so that it shows the first answer: Streamlit discards what a
    page sends for a disabled widget, so neither a key nor a forged message changes the answer.
    lesson_keys.js finds the group by its container, lesson_choices."""
    done = answered(number)
    with st.container(key="lesson_choices"):
        st.radio(
            f"**Predict:** {question.prompt}",
            range(len(question.choices)),
            index=answer(number),
            format_func=lambda i: question.choices[i],
            key=answer_key(number, done),
            on_change=None if done else record,
            args=(number, question, poll),
            disabled=done,
            horizontal=done,
        )


def reveal(number: int, poll: ClassPoll | None = None) -> None:
    """Show step `number`'s view; the teacher of a class shows it to every student at once."""
    st.session_state.setdefault(state.LESSON_REVEALED, set()).add(number)
    if poll is not None and poll.teaching:
        polls.reveal_to_class(poll, number)


def reveal_button(number: int, poll: ClassPoll | None) -> None:
    """The button under a step's question whose view is not shown yet, and what it means; the
    teacher of a class has theirs beside the tally (teacher_row)."""
    if poll is not None and poll.teaching:
        return
    if poll is not None and answer(number) is not None:
        label = "Show it now"
        hint = "Your answer is in: the teacher reveals the answer to the class, or see it now."
    else:
        label = "Reveal without answering"
        hint = "Pick an answer, then the view shows what happens."
    st.button(label, key=f"lesson_reveal_{number}", on_click=reveal, args=(number, poll))
    st.caption(hint)


def teacher_row(poll: ClassPoll, number: int) -> None:
    """The teacher's buttons under the tally; reveal is among them until the step is shown."""
    shown_ = shown(number, poll)
    polls.teacher_buttons(poll, number, None if shown_ else lambda: reveal(number, poll))


def answered(number: int) -> bool:
    """Whether step `number` was answered or revealed in this session."""
    revealed = st.session_state.get(state.LESSON_REVEALED, set())
    return answer(number) is not None or number in revealed


def shown(number: int, poll: ClassPoll | None) -> bool:
    """Whether step `number`'s view is shown: once answered, or in a class once revealed (by
    the teacher for everyone, or by this student's "Show it now")."""
    if poll is None:
        return answered(number)
    return number in st.session_state.get(state.LESSON_REVEALED, set())


def join_class(poll: ClassPoll, number: int) -> int:
    """Bring this session up to the class: follow the teacher's latest "bring everyone to this
    step" once, take this browser's counted answer from the database (so that a reload keeps it,
    and a cleared class can answer again), and show the view once the teacher revealed it.
    Returns the step to show."""
    found = polls.pace(poll)
    if found is not None:
        polls.followed(found[1])
        number = found[0]
        go_to(number)
    if not poll.teaching:
        answers = st.session_state.setdefault(state.LESSON_ANSWERS, {})
        counted = polls.answer_of(poll, number)
        if counted is None and answers.pop(number, None) is not None:
            st.session_state.pop(answer_key(number), None)  # the radio starts empty again
        elif counted is not None:
            answers[number] = counted
    tally = polls.tally(poll, number, STEPS[number - 1].question)
    if tally is not None and tally.revealed:
        st.session_state.setdefault(state.LESSON_REVEALED, set()).add(number)
    return number


def keyboard() -> None:
    """Left and right arrows move between steps (lesson_keys.js), also from an answered
    question's radio group."""

    def moved() -> None:
        value = st.session_state[state.LESSON_KEYS].get("move")
        if isinstance(value, dict) and value.get("move") in (-1, 1):
            move(value["move"])

    _keys(key=state.LESSON_KEYS, height=0, on_move_change=moved)
