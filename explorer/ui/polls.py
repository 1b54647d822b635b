"""The Lesson's live polls. With a teacher key set, every step's question is a poll of the class,
kept in the class database (explorer/server/classdb.py): each student's first answer counts, the
teacher's presenter view shows the tally live and reveals the answer to everyone at once, and
can bring every student to the step on the teacher's screen. Without a key (one person on their
own machine) there is no class and the Lesson runs as before: session() is None.

A database that cannot be used (corrupt, locked, a read-only runs folder) turns the polls off
with one line, and the Lesson goes on without them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from explorer.core.lesson import STEPS, Question
from explorer.core.polls import tally_figure
from explorer.server import classdb
from explorer.server.classdb import ClassDB, ClassDBError, Tally
from explorer.ui import state, teacher
from explorer.ui.slides import slide_downloads

if TYPE_CHECKING:  # figures are built in explorer/core/ (tests/test_architecture.py)
    import plotly.graph_objects as go

# The tally redraws this often: with 60 students a new answer shows within 0.9 s at p95 (at
# 0.5 s it was 2.3-2.8 s: benchmarks.md, "A class poll"); one session's ~20 ms run.
TEACHER_EVERY_S = 0.25
STUDENT_EVERY_S = 3.0  # students look for the reveal and the teacher's step this often
SEEN_EVERY_S = 30.0  # a student's presence is written at most this often


@dataclass(frozen=True)
class ClassPoll:
    """This session's place in the class: the database, who it is, and whether it teaches."""

    db: ClassDB
    owner: str
    teaching: bool


@st.cache_resource(show_spinner=False)
def _database(path: str) -> ClassDB:
    """One ClassDB per file and server (a failure raises, so it is not kept: the next run tries
    again, once the teacher has moved a broken file away)."""
    return ClassDB(Path(path))


def session() -> ClassPoll | None:
    """The class this session belongs to, or None: no teacher key, or no usable database."""
    if not teacher.configured():
        return None
    try:
        poll = ClassPoll(_database(str(classdb.default_path())), state.owner(), teacher.unlocked())
    except ClassDBError as e:
        _off(e)
        return None
    _present(poll)
    return poll


def _present(poll: ClassPoll) -> None:
    """Say that this student is here (at most every SEEN_EVERY_S; the Lesson's counter keeps
    saying it while the page is open); a teacher is not a student, though they may have
    opened the page before entering the key."""
    last = st.session_state.get(state.POLL_SEEN_AT)  # (teaching, when) of the last write
    if last is None or last[0] != poll.teaching or time.time() - last[1] > SEEN_EVERY_S:
        run_safely(poll.db.absent if poll.teaching else poll.db.seen, poll.owner)
        st.session_state[state.POLL_SEEN_AT] = (poll.teaching, time.time())  # once, if it failed


def _off(error: ClassDBError) -> None:
    st.warning(f"Class polls are off: {error}", icon=":material/wifi_off:")


def run_safely(call, *args, failed=None):
    """call(*args), or `failed` after one line where the database fails in the middle of a
    class (the Lesson goes on without the poll)."""
    try:
        return call(*args)
    except ClassDBError as e:
        _off(e)
        return failed


def send(poll: ClassPoll, number: int, choice: int, n_choices: int) -> None:
    """A student's answer to step `number` (the teacher's does not count)."""
    if not poll.teaching:
        run_safely(poll.db.answer, number, poll.owner, choice, n_choices)


def tally(poll: ClassPoll, number: int, question: Question) -> Tally | None:
    return run_safely(poll.db.tally, number, len(question.choices), question.answer)


def answer_of(poll: ClassPoll, number: int) -> int | None:
    """This browser's counted answer (it outlives a reload), else None."""
    return run_safely(poll.db.answer_of, number, poll.owner)


def pace(poll: ClassPoll) -> tuple[int, float] | None:
    """The step the teacher last brought everyone to, and when, unless this session already
    followed that call (or teaches)."""
    found = None if poll.teaching else run_safely(poll.db.pace)
    if found and found[1] > st.session_state.get(state.POLL_PACE_AT, 0.0):
        return found
    return None


def followed(at: float) -> None:
    st.session_state[state.POLL_PACE_AT] = at


def counter(found: Tally, poll: ClassPoll) -> str:
    present = run_safely(poll.db.present) or 0
    return f"{found.answered} of {max(present, found.answered)} have answered."


@st.fragment(run_every=STUDENT_EVERY_S)
def student_panel(poll: ClassPoll, number: int, question: Question, shown: bool) -> None:
    """ "23 of 31 have answered", live; reruns the page when the teacher reveals the answer
    (the page then shows the view) or brings everyone to a step. shown: the view was already
    shown on this run."""
    _present(poll)
    found = tally(poll, number, question)
    if found is None:
        return
    if pace(poll) is not None or (found.revealed and not shown):
        st.rerun()
    st.caption(counter(found, poll))


@st.fragment(run_every=TEACHER_EVERY_S)
def teacher_panel(poll: ClassPoll, number: int, question: Question) -> None:
    """The tally as a bar chart, redrawn live; the right answer is marked once revealed."""
    st.plotly_chart(
        tally_chart(poll, number, question),
        key=f"poll_tally_{number}",
        config={"displayModeBar": False, "staticPlot": True},
    )


def tally_chart(poll: ClassPoll, number: int, question: Question) -> go.Figure:
    """The tally's bar chart now (all zeros where the database failed, after one line)."""
    n = len(question.choices)
    found = tally(poll, number, question) or Tally((0,) * n, 0, False, None)
    title = f"Step {number}: {counter(found, poll)}"
    return tally_figure(question.choices, found.counts, found.right, title)


def tally_downloads(poll: ClassPoll, number: int, question: Question) -> None:
    """The tally for a slide (SVG, 300-dpi PNG), as it stands when the button is clicked."""
    slide_downloads(
        lambda: tally_chart(poll, number, question),
        STEPS[number - 1].dataset,
        f"poll-step-{number}",
        key=f"poll_slide_{number}",
    )


def teacher_buttons(poll: ClassPoll, number: int, reveal: Callable[[], None] | None) -> None:
    """The teacher's row above the tally: reveal the answer (until it is, with reveal), bring
    the class to this step, and clear the class (after a second click)."""
    first, here, clear = st.columns(3)
    if reveal is not None:
        first.button(
            "Reveal the answer to the class",
            key=f"lesson_reveal_{number}",
            type="primary",
            icon=":material/visibility:",
            on_click=reveal,
            width="stretch",
        )
    here.button(
        "Bring everyone to this step",
        key="poll_bring",
        icon=":material/groups:",
        on_click=run_safely,
        args=(poll.db.bring_to, number),
        width="stretch",
    )
    with clear.popover("Clear the class…", icon=":material/delete_sweep:", width="stretch"):
        st.write("Forget every answer, reveal, drawing and who was present, for a new class.")
        st.button(
            "Yes, clear the class",
            key="poll_clear",
            type="primary",
            on_click=clear_class,
            args=(poll,),
        )


def clear_class(poll: ClassPoll) -> None:
    if run_safely(poll.db.clear, failed=False) is not False:
        for key in (state.LESSON_ANSWERS, state.LESSON_REVEALED):
            st.session_state.pop(key, None)
        st.toast("The class is cleared.", icon=":material/check:")


def reveal_to_class(poll: ClassPoll, number: int) -> None:
    run_safely(poll.db.reveal, number)


def right_share(poll: ClassPoll, number: int, question: Question) -> str:
    """ " 14 of 23 answered it right (61%)." once revealed, for the teacher's verdict line."""
    found = tally(poll, number, question)
    if found is None or found.right is None or not found.answered:
        return ""
    right = found.counts[found.right]
    return f" {right} of {found.answered} answered it right ({right / found.answered:.0%})."
