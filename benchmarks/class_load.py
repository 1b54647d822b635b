"""A class answering a Lesson poll at once (issue 22), measured from simulated browsers
(benchmarks/streamlit_client.py) against a server started with a teacher key.

Poll (step 1): the teacher opens ?lesson=1, enters the key in the sidebar and keeps the tally
fragment running (a rerun a second after the last, as the browser's timer does); each tally
is parsed from the chart's spec (the bars' counts and the title's "X of Y"), timestamped on
arrival. A second teacher tab opens Explore on digits, unlocks, and keeps the class map
fragment running (2 s after the last run), its caption's count timestamped the same way.
--students sessions, each with its own XSRF cookie (so its owner id is known here), open
?lesson=1 and keep their own panel polling; when all have opened, each picks its choice at a
random moment over --spread-s seconds. --twice of them send a changed answer a second later,
and one sends --flood answers as fast as the socket takes them (alternating choices, not
waiting for the runs). Then, in the same session, as a student would: Explore on
?dataset=digits (a full page run), the "Draw an input" toggle on (another, which adds the pad),
and the pad's "send" event with a real digit from the dataset (a different one each) at that
student's own random moment of the same window, or at once if the pages took past it
(benchmarks/class_draw.py). The first runs on a fresh runs folder train the digits pair,
before the class starts (warm_up). A student on Explore then sends nothing more.

Answer-to-tally latency: answers are committed one at a time under the server's write lock,
so their `at` column orders them; the k-th committed answer is in every tally whose total is
at least k. An answer's latency is from sending its first answer (the radio's rerun request)
to the arrival of the first teacher tally with a total >= its rank: what the teacher's screen
would show, on the client's clock. Drawing-to-class-map is the same over the drawings table
(one row per student, oldest first) and the class map's caption. A send's own time is from
the "send" event to its toast's arrival (the callback stores, then toasts, before the page
runs) and to the rerun's end. Afterwards the database is read: one row per student, each the
choice it sent first, the tally's total, one drawing per student, each the image it sent,
codes finite and of the pair's latent size; the last class map has one picture per drawing.

Kill -9 (step 2, --kill): new students answer over --spread-s (no drawings); half way the
server gets SIGKILL. An answer whose rerun came back finished was committed (the radio's
callback writes before the run goes on). The server restarts on the same runs folder: every
committed answer must be in the database with its choice, no owner twice, and the restarted
teacher's tally must count exactly the rows there.

Hostile pages: forged radio values (a string that is no option, an SQL-looking string, a
number out of range) must show no exception and store nothing; forged drawings from the pad (a
list of the wrong size, a string) a "Not sent" toast, no exception, nothing stored. Timings
are printed, never asserted; the client runs on the same CPU as the server.
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

from benchmarks import class_draw
from benchmarks.class_client import (
    FORGED,
    KEY,
    Student,
    Tally,
    attend,
    forge,
    latencies,
    new_cookie,
    quantile,
    teacher,
)
from benchmarks.class_draw import Drawings, Shown, sketches
from benchmarks.common import print_table
from benchmarks.server import AppServer
from explorer.core.lesson import STEPS
from explorer.server.classdb import FILENAME, ClassDB
from explorer.ui.state import owner_from_cookie

POLL_STEP, KILL_STEP = 1, 2
SETTLE_S = 2.5  # after the last answer, the teacher's tally shows it within this
MAP_SETTLE_S = 4.0  # ... and the class map (redrawn 2 s after its last run) the last drawing


@dataclass
class Checks:
    """A phase's answers against the database: rows for the step, students whose committed
    answer is missing, owners stored twice, rows whose choice is not the student's first, rows
    of owners who sent nothing (or forged a value). The flood is apart: while a run is queued,
    Streamlit merges the next rerun request into it and keeps the newer radio value, so the
    first answer the server runs may be any of the flood's first few (flood_first: it was the
    first sent; None without a flood)."""

    rows: int = 0
    lost: int = 0
    double: int = 0
    wrong: int = 0
    foreign: int = 0
    flood_first: bool | None = None


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
    drawings: Drawings = field(default_factory=Drawings)
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


async def run_class(
    server: AppServer, students: list[Student], step: int, args, watch: bool = False
) -> tuple[list[Tally], list[Shown], list[str]]:
    """The class on step; with watch, the teacher watching the tally and, in a second tab, the
    class map, and each student drawing after its answer. Ends SETTLE_S after every answer
    and drawing went in (or args.settle_s after the window); with a kill step, SIGKILL the
    server half way instead. Returns the tallies, the class maps, the teacher's problems."""
    stop, ready, mapped, clock = asyncio.Event(), asyncio.Event(), asyncio.Event(), []

    def start() -> tuple[float, asyncio.Event]:
        clock[:] = clock or [time.perf_counter()]
        return clock[0], stop

    watching = []
    if watch:
        watching.append(asyncio.create_task(teacher(server, step, stop, ready)))
        watching.append(asyncio.create_task(class_draw.class_map(server, stop, mapped)))
        await asyncio.gather(ready.wait(), mapped.wait())
    gate = asyncio.Barrier(len(students) + 1)
    then = class_draw.draw if watch else None
    tasks = [asyncio.create_task(attend(server, step, s, gate, start, then)) for s in students]
    await gate.wait()
    if step == KILL_STEP:  # in the middle: once half the class has committed an answer
        deadline = time.perf_counter() + args.spread_s
        while time.perf_counter() < deadline and 2 * sum(s.committed for s in students) < len(
            students
        ):
            await asyncio.sleep(0.05)
        server.kill()
    else:
        await asyncio.sleep(args.spread_s)
        deadline = time.perf_counter() + args.settle_s
        while time.perf_counter() < deadline and not all(done(s) for s in students):
            await asyncio.sleep(0.1)
        await asyncio.sleep(MAP_SETTLE_S if watch else SETTLE_S)
    stop.set()
    await asyncio.gather(*tasks)
    results = await asyncio.gather(*watching) if watch else [([], []), ([], [])]
    (tallies, problems), (shown, more) = results
    return tallies, shown, problems + more


def done(student: Student) -> bool:
    """Its answer went in and its drawing (if it draws) came back from its run."""
    return student.committed and (student.sketch is None or student.sketch.seconds is not None)


def stored(path: Path, step: int) -> list[tuple[str, int]]:
    """(owner, choice) of step's answers in the order they were committed (read directly: the
    server writes them one at a time under its lock, taking `at` inside it)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        query = "SELECT owner, choice FROM answers WHERE step = ? ORDER BY at"
        return db.execute(query, (step,)).fetchall()


def check(students: list[Student], rows: list[tuple[str, int]]) -> Checks:
    kept = dict(rows)
    first = {s.owner: kept.get(s.owner) == s.choice for s in students if s.owner in kept}
    floods = [first[s.owner] for s in students if s.answers > 2 and s.owner in first]
    return Checks(
        rows=len(rows),
        lost=sum(s.committed and s.owner not in kept for s in students),
        double=len(rows) - len(kept),
        wrong=sum(not first[s.owner] for s in students if s.answers <= 2 and s.owner in first),
        foreign=len(set(kept) - {s.owner for s in students if s.sent is not None}),
        flood_first=all(floods) if floods else None,
    )


async def poll_phase(server: AppServer, runs: Path, args, summary: Summary) -> None:
    path = runs / FILENAME
    await class_draw.warm_up(server, runs)
    cookies = [await new_cookie(server) for _ in range(args.students)]
    students = class_of(cookies, args, args.seed)
    students[0].answers = max(args.flood, 1)
    for s in students[1 : 1 + args.twice]:
        s.answers = 2
    for s, sketch in zip(students, sketches(len(students), args.spread_s, args.seed), strict=True):
        s.sketch = sketch
    tallies, maps, problems = await run_class(server, students, POLL_STEP, args, True)
    rows = stored(path, POLL_STEP)
    summary.students, summary.teacher_tallies = len(students), len(tallies)
    summary.answers_sent = sum(s.answers for s in students if s.sent is not None)
    answered = [(t.arrived, t.answered) for t in tallies]
    sent = {s.owner: s.sent for s in students}
    summary.latency_s, summary.not_in_tally = latencies(sent, [o for o, _ in rows], answered)
    summary.errors += problems + [p for s in students for p in s.problems]
    summary.errors += [f"student {i} never answered" for i, s in enumerate(students) if not s.sent]
    summary.poll = check(students, rows)
    db = ClassDB(path)  # read only: every write went through the server's pages
    question = STEPS[POLL_STEP - 1].question
    summary.tally_total = db.tally(POLL_STEP, len(question.choices), question.answer).answered
    summary.drawings = class_draw.summarize(db, runs, students, maps)
    for what, make in FORGED.items():
        owner, problems = await forge(server, POLL_STEP, make)
        kept = db.answer_of(POLL_STEP, owner)
        # counted apart: a wrong-typed value fails inside Streamlit, in the forger's page alone
        shown = "an exception in its own page" if problems else "no problem"
        summary.forged[what] = f"{shown}, stored: {'nothing' if kept is None else kept}"
        summary.forged_problems[what] = problems
        summary.poll.foreign += kept is not None
    summary.drawings.forged = await class_draw.forgeries(server, db)
    summary.errors += summary.drawings.problems


async def kill_phase(server: AppServer, args) -> list[Student]:
    cookies = [await new_cookie(server) for _ in range(args.students)]
    students = class_of(cookies, args, args.seed + 1)
    await run_class(server, students, KILL_STEP, args)  # answers only
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
            asyncio.run(poll_phase(server, runs, args, summary))
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


FLOOD_ROW = {True: "yes", False: "no: a later one (queued reruns merge)", None: "-"}


def report(summary: Summary, args) -> None:
    poll, n = summary.poll, summary.students
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
        ["the flood's row: its first answer sent", FLOOD_ROW[poll.flood_first], ""],
        ["tally total (ClassDB.tally)", summary.tally_total, str(summary.students)],
    ]
    rows += class_draw.rows(summary.drawings, n)
    for what, result in summary.forged.items():
        rows.append([f"page: forged radio value, {what}", result, "stored: nothing"])
    for what, result in summary.drawings.forged.items():
        rows.append([f"page: forged drawing, {what}", result, "Not sent, stored: nothing"])
    print_table(
        f"Class poll: {summary.students} students answer Lesson step {POLL_STEP} over "
        f"{args.spread_s:g} s while the teacher's tally reruns every 0.25 s",
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
            f"{args.spread_s:g} s; SIGKILL once half have committed, restart on the same runs",
            ["measure", "value", "target"],
            rows,
        )
    for message in list(dict.fromkeys(summary.errors))[:10]:
        print("  " + message[:300])


def main(args) -> None:
    report(run(args), args)
