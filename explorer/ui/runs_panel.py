"""The Train page's runs folder, for the teacher (everyone, where no teacher key is set): the
finished runs, each one publishable as its dataset's class default and deletable; the runs a
crash interrupted, removable; and what the folder's size cap removed lately."""

from __future__ import annotations

import time

import streamlit as st

from explorer.server import classroom, runs
from explorer.ui import resources, teacher

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
    finished = [run for name in resources.dataset_choices() for run in runs.trained_runs(name)]
    finished.sort(key=lambda run: run.created, reverse=True)
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
        title.markdown(f"{info.title}{badge}")
        if is_default:
            publish.button(
                "Unpublish",
                key=f"unpublish_{info.id}",
                on_click=publish_run,
                args=(info.dataset, None),
                help="Back to the built-in default",
            )
        else:
            publish.button("Publish", key=f"publish_{info.id}",
                           on_click=publish_run, args=(info.dataset, info.id),
                           help=f"Make it every student's default on {info.dataset}")  # fmt: skip
        delete.button("Delete", key=f"delete_{info.id}", on_click=remove, args=(info,))


def interrupted(info: runs.RunInfo) -> None:
    with st.container(border=True):
        text, button = st.columns([3, 1], vertical_alignment="center")
        text.markdown(f"{info.title}: the server stopped before it was saved")
        button.button("Remove", key=f"remove_{info.id}", on_click=remove, args=(info,))


# The buttons are drawn for the teacher only; the callbacks check again all the same.


def publish_run(dataset: str, run_id: str | None) -> None:
    if teacher.is_teacher():
        classroom.publish(dataset, run_id)


def remove(info: runs.RunInfo) -> None:
    if teacher.is_teacher() and not runs.remove_run(info.id):
        st.toast(f"{info.title} was already gone.")
