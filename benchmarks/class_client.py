"""The sessions of a class on the Lesson page, for benchmarks/class_load.py: the teacher who
unlocks and watches the poll's tally, students who answer (once, twice, or a flood), the tally
parsed from the chart the teacher's page draws, and when the teacher's screens showed what."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from websockets.exceptions import ConnectionClosed

from benchmarks.server import AppServer
from benchmarks.streamlit_client import (
    RunResult,
    StreamlitSession,
    WidgetState,
    string_state,
    trigger_state,
    xsrf_cookie,
)
from explorer.ui.state import owner_from_cookie

KEY = "class-load-key"  # the server's teacher key
TITLE = re.compile(r"(\d+) of (\d+) have answered")
# Forged radio values a page could send: what each is, and the widget state carrying it.
FORGED = {
    "a label no option has": lambda wid: string_state(wid, "None of these"),
    "an SQL-looking string": lambda wid: string_state(wid, "0); DROP TABLE answers; --"),
    "a number out of range": lambda wid: WidgetState(id=wid, int_value=99),
}


@dataclass
class Sketch:
    """A student's drawing: its pixels (C*H*W whole numbers 0-255, planar, as the pad sends
    them), the moment it is sent (seconds after the class's start, or as soon as the pad is
    open if later); what happened, on time.perf_counter()."""

    pixels: list[int]
    at: float
    opening: float | None = None  # it went to Explore (after its answer)
    ready: float | None = None  # the pad was open
    late: bool = False  # the pad opened after its moment: sent at once
    sent: float | None = None  # the "send" event went
    toasted: float | None = None  # seconds from sending to the toast's arrival
    seconds: float | None = None  # the send's rerun, to its script_finished
    toast: str = ""


@dataclass
class Student:
    """One simulated student: its owner id, first choice, when it answers (seconds after the
    class's start) and how many answers it sends; what happened to it."""

    owner: str
    cookie: str
    choice: int
    answer_at: float
    answers: int = 1
    sent: float | None = None  # time.perf_counter() when its first answer went
    committed: bool = False  # its answer's rerun came back finished
    sketch: Sketch | None = None  # its drawing, sent from Explore after its answer
    problems: list[str] = field(default_factory=list)


@dataclass
class Tally:
    """One tally the teacher's page showed: arrival (time.perf_counter()), "X of Y", the bars."""

    arrived: float
    answered: int
    of: int
    counts: tuple[int, ...]


def problems_of(result: RunResult) -> list[str]:
    """Exceptions, st.error, and the one line of polls that are off."""
    off = [
        f"st.warning: {e.proto.body[:120]}"
        for e in result.of_kind("alert")
        if e.proto.format == Alert.WARNING and "Class polls are off" in e.proto.body
    ]
    return [*result.problems, *off]


def tally_of(result: RunResult, step: int) -> Tally | None:
    """The teacher's tally chart in this run, or None."""
    chart = next((e for e in result.of_kind("plotly_chart") if e.key == f"poll_tally_{step}"), None)
    if chart is None:
        return None
    spec = json.loads(chart.proto.spec)
    answered, of = map(int, TITLE.search(spec["layout"]["title"]["text"]).groups())
    counts = tuple(int(n) for n in spec["data"][0]["x"])
    if sum(counts) != answered:
        raise ValueError(f"the bars count {sum(counts)} but the title says {answered}")
    return Tally(chart.received, answered, of, counts)


def latencies(
    sent: dict[str, float | None], owners: list[str], shown: list[tuple[float, int]]
) -> tuple[list[float], int]:
    """Each owner's seconds from sending to the first (arrival, total) shown that counts it
    (owners in commit order: the k-th is in every total >= k), and how many none counted."""
    found, missing = [], 0
    for k, owner in enumerate(owners, 1):
        seen = next((arrived for arrived, total in shown if total >= k), None)
        if seen is None:
            missing += 1
        elif sent.get(owner) is not None:
            found.append(seen - sent[owner])
    return found, missing


def quantile(values: list[float], q: float) -> float | str:
    return float(np.percentile(values, q)) if values else "-"


async def new_cookie(server: AppServer) -> str:
    return await asyncio.to_thread(xsrf_cookie, server.http_url)


async def open_lesson(s: StreamlitSession, step: int, problems: list[str]) -> RunResult:
    result = await s.open_page("lesson", query=f"lesson={step}", timeout=120)
    problems += problems_of(result)
    return result


async def teacher(
    server: AppServer, step: int, stop: asyncio.Event, ready: asyncio.Event
) -> tuple[list[Tally], list[str]]:
    """The teacher's view until stop (ready: its first tally came, or it failed): its tallies
    in order of arrival, and its problems."""
    tallies, problems = [], []
    try:
        async with StreamlitSession.connect(server.ws_url, xsrf=await new_cookie(server)) as s:
            await open_lesson(s, step, problems)
            unlock = [
                string_state(s.widgets["teacher_key"].proto.id, KEY),
                trigger_state(s.widgets["teacher_unlock"].proto.id),
            ]
            problems += problems_of(await s.rerun(unlock))
            result = await s.rerun()  # the page as the teacher's, with the tally fragment
            while True:
                problems += problems_of(result)
                found = tally_of(result, step)
                if found is not None:
                    tallies.append(found)
                elif result.of_kind("plotly_chart") or not tallies:
                    problems.append("the teacher's page has no tally")
                    break
                ready.set()
                if stop.is_set():
                    break
                result = await s.poll()
    except (ConnectionClosed, OSError, KeyError, ValueError, TimeoutError) as e:
        problems.append(f"teacher: {e!r}"[:200])
    ready.set()
    return tallies, problems


async def flood(s: StreamlitSession, step: int, student: Student) -> None:
    """student.answers answers without waiting for the runs, then until the server is quiet."""
    radio = s.widgets[f"lesson_answer_{step}"].proto
    for i in range(student.answers):
        state = ClientState(page_script_hash=s.page_script_hash, query_string=s.query_string)
        choice = radio.options[(student.choice + i) % len(radio.options)]
        state.widget_states.widgets.append(string_state(radio.id, choice))
        message = BackMsg()
        message.rerun_script.CopyFrom(state)
        await s.ws.send(message.SerializeToString())
    while await s.listen(0.5):
        pass


async def answer(s: StreamlitSession, step: int, student: Student) -> None:
    """The first answer (all of them, flooding); a changed one a second later if it sends two
    (through the radio it saw, as a stale or forged page would: the page now draws it disabled)."""
    key = f"lesson_answer_{step}"
    options = s.widgets[key].proto.options
    student.sent = time.perf_counter()
    if student.answers > 2:
        await flood(s, step, student)
    else:
        student.problems += problems_of(await s.choose(key, options[student.choice]))
    student.committed = True
    if student.answers == 2:
        await asyncio.sleep(1.0)
        changed = options[(student.choice + 1) % len(options)]
        student.problems += problems_of(await s.choose(key, changed))


async def attend(
    server: AppServer,
    step: int,
    student: Student,
    gate: asyncio.Barrier,
    start: Callable[[], tuple[float, asyncio.Event]],
    then: Callable[[StreamlitSession, Student, float], Awaitable[None]] | None = None,
) -> None:
    """Open the Lesson, wait at the gate for the class, answer at t0 + answer_at, and keep the
    student panel polling (every 2 s, as the page asks) until stop or the server goes; start()
    gives (t0, stop). With then: once answered, then(session, student, t0) (another page),
    and that page's own timers until stop."""
    try:
        async with StreamlitSession.connect(server.ws_url, xsrf=student.cookie) as s:
            await open_lesson(s, step, student.problems)
            await gate.wait()
            t0, stop = start()
            due = t0 + student.answer_at
            while not stop.is_set():
                if student.sent is not None and then is not None:
                    await then(s, student, t0)
                    await idle(s, stop, student.problems)
                    break
                wait = min(due, time.perf_counter() + 2.0) - time.perf_counter()
                if student.sent is None and wait <= 0:
                    await answer(s, step, student)
                    continue
                try:
                    await asyncio.wait_for(stop.wait(), max(wait, 0))
                except TimeoutError:
                    if student.sent is not None or time.perf_counter() < due:
                        student.problems += problems_of(await s.poll())
    except (ConnectionClosed, OSError) as e:
        if not server.killed:
            student.problems.append(f"disconnect: {e!r}"[:200])
    except (KeyError, TimeoutError) as e:
        student.problems.append(f"{type(e).__name__}: {e}"[:200])


async def idle(s: StreamlitSession, stop: asyncio.Event, problems: list[str]) -> None:
    """Until stop, only what the open page's timers rerun (a browser left alone)."""
    while not stop.is_set():
        if not s.auto_reruns:
            await stop.wait()
            return
        fragment_id, interval = next(iter(s.auto_reruns.items()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
            return
        problems += problems_of(await s.rerun(fragment_id=fragment_id, is_auto_rerun=True))


async def forge(server: AppServer, step: int, make: Callable[[str], WidgetState]) -> tuple:
    """A fresh student who sends a forged radio value, then reruns: (owner, problems)."""
    cookie, problems = await new_cookie(server), []
    async with StreamlitSession.connect(server.ws_url, xsrf=cookie) as s:
        await open_lesson(s, step, problems)
        radio = s.widgets[f"lesson_answer_{step}"]
        problems += problems_of(await s.rerun([make(radio.proto.id)], radio.fragment_id))
        problems += problems_of(await s.rerun())
    return owner_from_cookie(cookie), problems
