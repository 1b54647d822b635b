"""The Train page's runs folder, for the teacher (everyone, where no teacher key is set): the
finished runs, each one publishable as its dataset's class default and deletable (after a
"Yes, delete"); the runs a crash interrupted, removable; and what the folder's size cap
removed lately."""

from __future__ import annotations

import time

import streamlit as st

from explorer.core import display
from explorer.server import classroom, runs
from explorer.ui import resources, state, teacher

MAX_LISTED = 20  # newest finished runs listed; the pickers list them all


def runs_list() -> None:
    st.subheader("Runs on this server")
    for when, sentence in resources.job_manager().notices:
        if time.time() - when < 3600:
            st.caption(f"{time.strftime('%H:%M', time.localtime(when))}: {sentence}")
    if not teacher.allowed("publish or delete runs"):
        return
    active = resources.job_manager().active_ids()
    for info in runs.interrupted_runs(active):
        interrupted(info)
    finished = runs.finished_runs()[::-1]  # newest first, every dataset
    if not finished:
        st.caption("No finished runs yet: the defaults are what every student sees.")
    published = classroom.published()
    for info in finished[:MAX_LISTED]:
        finished_run(info, published.get(info.dataset) == info.id)
    if len(finished) > MAX_LISTED:
        st.caption(f"and {len(finished) - MAX_LISTED} older runs (in the Models picker).")


def finished_run(info: runs.RunInfo, is_default: bool) -> None:
    with st.container(border=True):
        title, publish, delete = st.columns([3, 1.1, 1], vertical_alignment="center")
        badge = " · **class default**" if is_default else ""
        title.markdown(display.markdown_text(info.title) + badge)  # a header's words: escaped
        if is_default:
            publish.button(
                "Unpublish",
                key=f"unpublish_{info.id}",
                on_click=publish_run,
                args=(info.dataset, None),
                help="Back to the built-in one",
            )
        elif info.dataset is not None:  # an unreadable header names no dataset to publish for
            publish.button(
                "Publish",
                key=f"publish_{info.id}",
                on_click=publish_run,
                args=(info.dataset, info.id),
                help=f"Make it every student's default on {info.dataset}",
            )
        delete.button("Delete", key=f"delete_{info.id}", on_click=ask_to_delete, args=(info.id,))
        if st.session_state.get(state.RUN_TO_DELETE) == info.id:  # gone for good: ask first
            question, yes, keep = st.columns([3, 1.1, 1], vertical_alignment="center")
            question.markdown("Delete this run? Its files go for good.")
            yes.button(
                "Yes, delete",
                type="primary",
                key=f"confirm_delete_{info.id}",
                on_click=remove,
                args=(info,),
            )
            keep.button("Keep it", key=f"keep_{info.id}", on_click=ask_to_delete, args=(None,))


def interrupted(info: runs.RunInfo) -> None:
    with st.container(border=True):
        text, button = st.columns([3, 1], vertical_alignment="center")
        what = display.markdown_text(info.title)
        text.markdown(f"{what}: the server stopped before it was saved")
        button.button("Remove", key=f"remove_{info.id}", on_click=remove, args=(info,))


# The buttons are drawn for the teacher only; the callbacks check again all the same.


def ask_to_delete(run_id: str | None) -> None:
    st.session_state[state.RUN_TO_DELETE] = run_id


def publish_run(dataset: str, run_id: str | None) -> None:
    if teacher.is_teacher():
        classroom.publish(dataset, run_id)


def remove(info: runs.RunInfo) -> None:
    st.session_state.pop(state.RUN_TO_DELETE, None)
    active = resources.job_manager().active_ids()
    if teacher.is_teacher() and not runs.remove_run(info.id, active):
        st.toast(f"{info.title} was already gone.")
