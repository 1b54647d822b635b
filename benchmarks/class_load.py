"""A class answering a Lesson poll at once (issue 22), measured from simulated browsers
(benchmarks/streamlit_client.py) against a server started with a teacher key.

Poll (step 1): the teacher opens ?lesson=1, enters the key in the sidebar and keeps the tally
fragment running (a rerun a second after the last, as the browser's timer does); each tally
is parsed from the chart's spec (the bars' counts and the title's "X of Y"), timestamped on
arrival. --students sessions, each with its own XSRF cookie (so its owner id is known here),
open ?lesson=1 and keep their own panel polling; when all have opened, each picks its choice
at a random moment over --spread-s seconds. --twice of them send a changed answer a second
later, and one sends --flood answers as fast as the socket takes them (alternating choices,
not waiting for the runs). Each student's drawing goes into the same database file at a
random moment of the same window: written by THIS process through ClassDB.send_drawing, not
through the page (there is no drawing UI yet): a second process writing beside the server.

Answer-to-tally latency: answers are committed one at a time under the server's write lock,
so their `at` column orders them; the k-th committed answer is in every tally whose total is
at least k. An answer's latency is from sending its first answer (the radio's rerun request)
to the arrival of the first teacher tally with a total >= its rank: what the teacher's screen
would show, on the client's clock. Afterwards the database is read: one row per student, each
the choice it sent first, the tally's total, one drawing each.

Kill -9 (step 2, --kill): new students answer over --spread-s; half way the server gets
SIGKILL. An answer whose rerun came back finished was committed (the radio's callback writes
before the run goes on). The server restarts on the same runs folder: every committed answer
must be in the database with its choice, no owner twice, and the restarted teacher's tally
must count exactly the rows there.

Hostile pages: forged radio values (a string that is no option, an SQL-looking string, a
number out of range) must show no exception and store nothing. Timings are printed, never
asserted; the client runs on the same CPU as the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.class_client import (
    FORGED,
    KEY,
    Student,
    Tally,
    attend,
    forge,
    new_cookie,
    teacher,
)
from benchmarks.common import print_table
from benchmarks.server import AppServer
from explorer.core.lesson import STEPS
from explorer.server.classdb import FILENAME, ClassDB
from explorer.ui.state import owner_from_cookie

POLL_STEP, KILL_STEP = 1, 2
DATASET, SHAPE, LATENT_DIM = "digits", (8, 8), 2  # the default digits pair's images and codes
SETTLE_S = 2.5  # after the last answer, the teacher's tally shows it within this


@dataclass
class Checks:
    """A phase's answers against the database: rows for the step, students whose committed
    answer is missing, owners stored twice, rows whose choice is not the student's first, rows
    of owners who sent nothing (or forged a value)."""

    rows: int = 0
    lost: int = 0
    double: int = 0
    wrong: int = 0
    foreign: int = 0


@dataclass
class Summary:
    """What run() measured and checked; timings in seconds."""

    students: int = 0
    answers_sent: int = 0
    latency_s: list[float] = field(default_factory=list)
    not_in_tally: int = 0
    teacher_tallies: int = 0
    errors: list[str] = field(default_factory=list)
    poll: Checks = field(default_factory=Checks)
    tally_total: int = 0
    drawings: int = 0
    drawing_failures: list[str] = field(default_factory=list)
    forged: dict[str, str] = field(default_factory=dict)  # what was sent -> what happened
    forged_problems: dict[str, list[str]] = field(default_factory=dict)
    kill: dict[str, int] = field(default_factory=dict)  # committed, in flight, not sent, ...
    kill_checks: Checks | None = None
    restart_s: float | None = None


def class_of(cookies: list[str], args, seed: int) -> list[Student]:
    """Students with random choices and moments; with flood, the first floods, the next --twice
    send two."""
    rng = random.Random(seed)
    n_choices = len(STEPS[POLL_STEP - 1].question.choices)
    return [
        Student(owner_from_cookie(c), c, rng.randrange(n_choices), rng.uniform(0, args.spread_s))
        for c in cookies
    ]


def draw(db: ClassDB, owner: str, seed: int) -> None:
    """One student's drawing through ClassDB, from this process (no page draws yet)."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, SHAPE, dtype=np.uint8)
    codes = {kind: rng.normal(size=LATENT_DIM).tolist() for kind in ("ae", "vae")}
    db.send_drawing(owner, DATASET, image, codes, SHAPE, LATENT_DIM)


async def drawing_at(db: ClassDB, owner: str, seed: int, at: float) -> str:
    """The drawing at time.perf_counter() `at`; "" or what failed."""
    await asyncio.sleep(max(0.0, at - time.perf_counter()))
    try:
        await asyncio.to_thread(draw, db, owner, seed)
    except Exception as e:  # noqa: BLE001 (every failure is counted)
        return f"drawing {seed}: {e!r}"[:200]
    return ""


async def run_class(
    server: AppServer, students: list[Student], step: int, args, db: ClassDB | None = None
) -> tuple[list[Tally], list[str], list[str]]:
    """The class on step, with the teacher watching where db is given (and each student also
    drawing through it). Ends SETTLE_S after every answer went in (or args.settle_s after the
    window); with args.kill_s, SIGKILL the server that long after the start instead.
    Returns the teacher's tallies, its problems, and the drawings' failures."""
    stop, ready, clock = asyncio.Event(), asyncio.Event(), []

    def start() -> tuple[float, asyncio.Event]:
        clock[:] = clock or [time.perf_counter()]
        return clock[0], stop

    watching = asyncio.create_task(teacher(server, step, stop, ready)) if db else None
    if watching:
        await ready.wait()
    gate = asyncio.Barrier(len(students) + 1)
    tasks = [asyncio.create_task(attend(server, step, s, gate, start)) for s in students]
    await gate.wait()
    t0, _ = start()
    rng = random.Random(args.seed)
    drawn = [
        asyncio.create_task(drawing_at(db, s.owner, i, t0 + rng.uniform(0, args.spread_s)))
        for i, s in enumerate(students)
        if db is not None
    ]
    if step == KILL_STEP:
        await asyncio.sleep(args.spread_s / 2)
        server.kill()
    else:
        await asyncio.sleep(args.spread_s)
        deadline = time.perf_counter() + args.settle_s
        while time.perf_counter() < deadline and not all(s.committed for s in students):
            await asyncio.sleep(0.1)
        await asyncio.sleep(SETTLE_S)
    stop.set()
    await asyncio.gather(*tasks)
    failures = [f for f in await asyncio.gather(*drawn) if f]
    tallies, problems = await watching if watching else ([], [])
    return tallies, problems, failures


def stored(path: Path, step: int) -> list[tuple[str, int]]:
    """(owner, choice) of step's answers in the order they were committed (read directly: the
    server writes them one at a time under its lock, taking `at` inside it)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        query = "SELECT owner, choice FROM answers WHERE step = ? ORDER BY at"
        return db.execute(query, (step,)).fetchall()


def check(students: list[Student], rows: list[tuple[str, int]]) -> Checks:
    kept = dict(rows)
    return Checks(
        rows=len(rows),
        lost=sum(s.committed and s.owner not in kept for s in students),
        double=len(rows) - len(kept),
        wrong=sum(s.owner in kept and kept[s.owner] != s.choice for s in students),
        foreign=len(set(kept) - {s.owner for s in students if s.sent is not None}),
    )


def latencies(students: list[Student], rows, tallies: list[Tally]) -> tuple[list[float], int]:
    """Each answer's seconds from its sending to the first tally that counts it (the k-th
    committed answer is in every tally of total >= k), and how many no tally counted."""
    sent = {s.owner: s.sent for s in students}
    found, missing = [], 0
    for k, (owner, _) in enumerate(rows, 1):
        seen = next((t.arrived for t in tallies if t.answered >= k), None)
        if seen is None:
            missing += 1
        elif sent.get(owner) is not None:
            found.append(seen - sent[owner])
    return found, missing


async def poll_phase(server: AppServer, path: Path, args, summary: Summary) -> None:
    cookies = [await new_cookie(server) for _ in range(args.students)]
    students = class_of(cookies, args, args.seed)
    students[0].answers = max(args.flood, 1)
    for s in students[1 : 1 + args.twice]:
        s.answers = 2
    db = ClassDB(path)  # a second process on the server's file
    tallies, problems, summary.drawing_failures = await run_class(
        server, students, POLL_STEP, args, db
    )
    rows = stored(path, POLL_STEP)
    summary.students, summary.teacher_tallies = len(students), len(tallies)
    summary.answers_sent = sum(s.answers for s in students if s.sent is not None)
    summary.latency_s, summary.not_in_tally = latencies(students, rows, tallies)
    summary.errors += problems + [p for s in students for p in s.problems]
    summary.errors += [f"student {i} never answered" for i, s in enumerate(students) if not s.sent]
    summary.poll = check(students, rows)
    question = STEPS[POLL_STEP - 1].question
    summary.tally_total = db.tally(POLL_STEP, len(question.choices), question.answer).answered
    owners = {s.owner for s in students}
    summary.drawings = sum(d.owner in owners for d in db.drawings(DATASET))
    for what, make in FORGED.items():
        owner, problems = await forge(server, POLL_STEP, make)
        kept = db.answer_of(POLL_STEP, owner)
        # counted apart: a wrong-typed value fails inside Streamlit, in the forger's page alone
        shown = "an exception in its own page" if problems else "no problem"
        summary.forged[what] = f"{shown}, stored: {'nothing' if kept is None else kept}"
        summary.forged_problems[what] = problems
        summary.poll.foreign += kept is not None


async def kill_phase(server: AppServer, args) -> list[Student]:
    cookies = [await new_cookie(server) for _ in range(args.students)]
    students = class_of(cookies, args, args.seed + 1)
    await run_class(server, students, KILL_STEP, args)
    return students


async def after_restart(server: AppServer, path: Path, students, summary: Summary) -> None:
    """The database and the restarted server's pages against what was committed."""
    rows = stored(path, KILL_STEP)
    summary.kill_checks = check(students, rows)
    summary.kill = {
        "committed before the kill": sum(s.committed for s in students),
        "in flight at the kill": sum(s.sent is not None and not s.committed for s in students),
        "not sent (after the kill)": sum(s.sent is None for s in students),
    }
    stop, ready = asyncio.Event(), asyncio.Event()
    stop.set()  # one tally, then leave
    tallies, problems = await teacher(server, KILL_STEP, stop, ready)
    summary.errors += problems
    shown = tallies[-1].answered if tallies else None
    summary.kill["restarted teacher's tally"] = shown
    if shown != len(rows):
        summary.errors.append(f"after the restart the tally shows {shown}, the file {len(rows)}")


def start_server(runs: Path, log: Path) -> AppServer:
    """The app with the teacher key, healthy, and its Lesson opened once (imports, caches)."""
    server = AppServer(runs, log, env={"LATENT_EXPLORER_TEACHER_KEY": KEY})
    server.start()
    try:
        server.wait_healthy()
    except BaseException:
        server.stop()
        raise
    return server


def run(args) -> Summary:
    """The poll phase, then (args.kill) the kill -9 phase and the restart's checks."""
    summary = Summary()
    with tempfile.TemporaryDirectory(prefix="class_load_") as tmp:
        runs = args.runs or Path(tmp) / "runs"
        path = runs / FILENAME
        server = start_server(runs, Path(tmp) / "server.log")
        try:
            asyncio.run(poll_phase(server, path, args, summary))
            if args.kill:
                students = asyncio.run(kill_phase(server, args))
                server.stop()  # killed already; no-op
                started = time.perf_counter()
                server = start_server(runs, Path(tmp) / "restarted.log")
                summary.restart_s = time.perf_counter() - started
                asyncio.run(after_restart(server, path, students, summary))
        finally:
            server.stop()
    return summary


def quantile(values: list[float], q: float) -> float | str:
    return float(np.percentile(values, q)) if values else "-"


def report(summary: Summary, args) -> None:
    poll = summary.poll
    rows = [
        ["students (1 floods, some answer twice)", summary.students, ""],
        ["answers sent", summary.answers_sent, ""],
        ["answer-to-tally p50 s", quantile(summary.latency_s, 50), ""],
        ["answer-to-tally p95 s", quantile(summary.latency_s, 95), "<= 2"],
        ["answer-to-tally max s", max(summary.latency_s, default="-"), ""],
        ["answers no tally showed", summary.not_in_tally, "0"],
        ["teacher tallies received", summary.teacher_tallies, ""],
        ["errors (exceptions, st.error, polls off)", len(summary.errors), "0"],
        ["rows in the database", poll.rows, str(summary.students)],
        [
            "lost / double-counted / wrong choice",
            f"{poll.lost} / {poll.double} / {poll.wrong}",
            "0",
        ],
        ["rows of changed answers, floods, forgeries", poll.foreign, "0"],
        ["tally total (ClassDB.tally)", summary.tally_total, str(summary.students)],
        [
            "drawings stored (written by the client through ClassDB, not through the page)",
            summary.drawings,
            str(summary.students),
        ],
        ["drawing failures", len(summary.drawing_failures), "0"],
    ]
    for what, result in summary.forged.items():
        rows.append([f"page: forged radio value, {what}", result, "stored: nothing"])
    print_table(
        f"Class poll: {summary.students} students answer Lesson step {POLL_STEP} over "
        f"{args.spread_s:g} s while the teacher's tally reruns every second",
        ["measure", "value", "target"],
        rows,
    )
    if summary.kill_checks is not None:
        kill = summary.kill_checks
        rows = [[k, v, ""] for k, v in summary.kill.items()]
        rows += [
            ["rows in the database after the restart", kill.rows, ""],
            ["committed answers lost", kill.lost, "0"],
            ["double-counted / wrong choice", f"{kill.double} / {kill.wrong}", "0"],
            ["rows of owners who sent nothing", kill.foreign, "0"],
            ["restart to health s", summary.restart_s, ""],
        ]
        print_table(
            f"Kill -9: {summary.students} students answer step {KILL_STEP} over "
            f"{args.spread_s:g} s; SIGKILL at {args.spread_s / 2:g} s, restart on the same runs",
            ["measure", "value", "target"],
            rows,
        )
    for message in list(dict.fromkeys(summary.errors + summary.drawing_failures))[:10]:
        print("  " + message[:300])


def main(args) -> None:
    report(run(args), args)
