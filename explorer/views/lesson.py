"""Lesson: a 15-minute class in ten steps (explorer/core/lesson.py). Each step asks first and
shows its live view once answered. ?lesson=N opens step N, ?present=1 is presenter mode, and
the left and right arrow keys move between steps. With a teacher key set, every question is a
live poll of the class (explorer/ui/polls.py), and the teacher reveals the answer to everyone."""

import streamlit as st

from explorer.core.lesson import STEPS
from explorer.ui import lesson, polls, sidebar
from explorer.ui.instruments import instruments
from explorer.ui.lesson_views import VIEWS

presenting = lesson.presenting()
st.sidebar.caption(
    "The lesson runs on the default digits models; the prior-sampling and smile steps use the "
    "generated faces and the AE and VAE that ship with Latent Explorer (no training)."
)
poll = polls.session()  # None: no class (no teacher key), and the Lesson runs for one person
number = lesson.current_step()
if poll is not None:
    number = lesson.join_class(poll, number)
step = STEPS[number - 1]
lesson.keyboard()

with st.container(key="lesson_nav"):
    back, where, forward = st.columns([1, 4, 1], vertical_alignment="center")
    back.button(
        "← Previous",
        key="lesson_prev",
        on_click=lesson.move,
        args=(-1,),
        disabled=number == 1,
        width="stretch",
    )
    where.progress(number / len(STEPS), text=f"Step {number} of {len(STEPS)}: {step.title}")
    forward.button(
        "Next →",
        key="lesson_next",
        on_click=lesson.move,
        args=(1,),
        disabled=number == len(STEPS),
        width="stretch",
    )

st.header(step.title)
# Presenting, an answered step folds its text and question away so that the view fills the screen.
compact = presenting and lesson.shown(number, poll)
if not compact:
    st.write(step.text)

question = step.question
box = (
    st.expander(f"Predict: {question.prompt}")
    if compact
    else st.container(key="lesson_question", border=True)
)
with box:
    lesson.ask(number, question, poll)  # the first answer counts, and stays when the step is left
    if poll is not None and poll.teaching:
        lesson.teacher_row(poll, number)  # above the tally: in view on a 720-pixel screen
        polls.teacher_panel(poll, number, question)
        polls.tally_downloads(poll, number, question)
    elif poll is not None:
        polls.student_panel(poll, number, question, lesson.shown(number, poll))
    if not lesson.shown(number, poll):
        lesson.reveal_button(number, poll)
        st.stop()
picked = lesson.answer(number)
answer = f"“{question.choices[question.answer]}”"
if poll is not None and poll.teaching:
    st.info(f"The answer: {answer}. {question.reveal}{polls.right_share(poll, number, question)}")
elif picked == question.answer:
    st.success(f"Right. {question.reveal}")
elif picked is not None:
    st.error(f"Not quite: the answer is {answer}. {question.reveal}")
else:
    st.info(f"The answer: {answer}. {question.reveal}")

pair = sidebar.model_pair(sidebar.Selection(step.dataset, sidebar.DEFAULT_SOURCE))
if pair is None:
    st.stop()
with st.container(key="lesson_view"):
    found = instruments().get(step.view)
    if found is not None:
        if not presenting:
            st.caption(found.explanation)
        found.show(pair, f"lesson_{step.view}")
    elif step.view in VIEWS:
        VIEWS[step.view](pair, f"lesson_{step.view}")
    else:
        st.info(f"The view {step.view!r} is not built yet.")
if not presenting:
    st.caption(
        "Keys: ← and → move between steps. Add `?present=1` to the address for "
        "presenter mode, `?lesson=N` to open step N."
    )
