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
    rerun_page_if_a_job_ended(jobs)
    running = [job for job in jobs if not job.done]
    st.subheader("Training on this server")
    by_teacher = " and by the teacher" if teacher.configured() else ""
    st.caption(
        f"At most {manager.max_running} jobs train at once, one per browser; each can be "
        f"cancelled from the browser that started it{by_teacher}."
    )
    if not running:
        st.caption("Nothing is training right now.")
    for job in running:
        running_job(job, me)
    mine = [job for job in reversed(jobs) if job.done and job.owner == me][:MAX_RESULTS]
    if mine:
        st.subheader("Your results")
    titles = run_titles(mine)
    for i, job in enumerate(mine):
        result(job, titles.get(job.id), newest=i == 0)


def rerun_page_if_a_job_ended(jobs: list[JobState]) -> None:
    """Rerun the whole page once when a job ended since the last poll: this fragment reruns
    alone, so without it the runs list would miss the new run, and a refusal drawn while the
    job trained ("You already have a job training") would stay beside "Nothing is training"."""
    done = {job.id for job in jobs if job.done}
    seen = st.session_state.get(state.JOBS_SEEN_DONE)
    st.session_state[state.JOBS_SEEN_DONE] = done
    if seen is not None and done - seen:
        st.rerun(scope="app")


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


def result(job: JobState, title: str | None, newest: bool) -> None:
    """A finished job's outcome in one sentence, with its loss curves; title: its saved run's
    (None where it has none)."""
    with st.container(border=True):
        if job.status == "finished" and title is None:  # deleted from the runs list since
            st.info(f"Finished, then deleted: {job.title}.")
        elif job.status == "finished":
            st.success(f"Finished: {title}, now in the Models picker. {message(job)}.")
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


def run_titles(jobs: list[JobState]) -> dict[str, str]:
    """Job id -> its saved run's title as the Models picker shows it (told apart from the other
    jobs' by the second where they share a minute); a job whose pair is not there (cancelled,
    failed, or deleted since) has none."""
    folders = [Path(job.checkpoints["vae"]).parent for job in jobs if "vae" in job.checkpoints]
    infos = [runs.run_info(folder) for folder in folders if runs.has_pair(folder)]
    return {info.id: info.title for info in runs.told_apart(infos)}


def message(job: JobState) -> str:
    """The job's message as Markdown shows it literally: a failure may quote the user's files."""
    return display.markdown_text(job.message, 500)


def clock(t: float) -> str:
    return time.strftime("%H:%M", time.localtime(t))
