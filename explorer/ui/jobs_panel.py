"""The Train page's job list: every job training on the server, whose it is and how far it got;
Cancel and live loss curves on this browser's own jobs; the results of its finished ones.

Jobs belong to an owner id (state.owner(): the same across reloads of one browser), so a
reload, or a second run started in the same session, hides nothing. The default-model jobs
belong to the server: listed for all, cancelled by none (every session on the dataset waits on
them)."""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from explorer.core import display, figures
from explorer.server import runs
from explorer.server.jobs import SERVER, JobSpec, JobState
from explorer.ui import resources, state, teacher

MAX_RESULTS = 5  # own finished jobs shown, newest first


def start(spec: JobSpec) -> None:
    """Start spec as this browser's job (JobLimitError names the jobs holding the slots)."""
    resources.job_manager().start(spec, state.owner())


@st.fragment(run_every=1.0)
def job_list() -> None:
    """Polls the job manager: survives reruns and clicks elsewhere in the app."""
    manager, me = resources.job_manager(), state.owner()
    jobs = manager.states()
    running = [job for job in jobs if not job.done]
    st.subheader("Training on this server")
    by_teacher = " and by the teacher" if teacher.configured() else ""
    st.caption(f"At most {manager.max_running} jobs train at once, one per browser; each can be "
               f"cancelled from the browser that started it{by_teacher}.")  # fmt: skip
    if not running:
        st.caption("Nothing is training right now.")
    for job in running:
        running_job(job, me)
    mine = [job for job in reversed(jobs) if job.done and job.owner == me][:MAX_RESULTS]
    if mine:
        st.subheader("Your results")
    for i, job in enumerate(mine):
        result(job, newest=i == 0)


def running_job(job: JobState, me: str) -> None:
    with st.container(border=True):
        st.markdown(f"**{job.describe(me)}**")
        st.caption(f"{message(job)} (started {clock(job.started)})")
        for kind, (step, total) in job.progress.items():
            st.progress(step / max(total, 1), text=f"{kind.upper()}: step {step} of {total}")
        # The teacher (with a key set and entered) may cancel any student's job, not the server's.
        may_cancel = job.owner == me or (teacher.unlocked() and job.owner != SERVER)
        if job.owner == me and job.curves:
            st.plotly_chart(figures.loss_curves(job.curves), key=f"curves_{job.id}")
        if may_cancel and st.button("Cancel", key=f"cancel_{job.id}"):
            resources.job_manager().cancel(job.id, me, teacher=teacher.unlocked())


def result(job: JobState, newest: bool) -> None:
    """A finished job's outcome in one sentence, with its loss curves."""
    with st.container(border=True):
        if job.status == "finished":
            st.success(f"Finished: {run_title(job)}, now in the Models picker. {message(job)}.")
            if st.button("Open in the maps", type="primary", key=f"open_{job.id}"):
                st.switch_page(
                    "views/explore.py",
                    query_params={"dataset": job.spec.dataset, "models": job.id},
                )
        elif job.status == "cancelled":
            st.warning(f"{job.title}: {message(job)}")
        else:
            st.error(f"{job.title} failed: {message(job)}")
        if job.curves:
            with st.expander("Loss curves", expanded=newest):
                st.plotly_chart(figures.loss_curves(job.curves), key=f"curves_{job.id}")


def run_title(job: JobState) -> str:
    """The saved run's name as the Models picker shows it (dataset · arch · K-D · date)."""
    vae = job.checkpoints.get("vae")
    folder = Path(vae).parent if vae else None
    if folder is None or not runs.has_pair(folder):
        return job.title
    return runs.run_info(folder).title


def message(job: JobState) -> str:
    """The job's message as Markdown shows it literally: a failure may quote the user's files."""
    return display.markdown_text(job.message, 500)


def clock(t: float) -> str:
    return time.strftime("%H:%M", time.localtime(t))
