"""A class on the Explore page at once: many sessions opening it together, hovering, then clicking
points. The app server's time to the first image, its CPU per open and per click, errors and
memory, measured from simulated browser sessions (benchmarks/streamlit_client.py).

Starts the app on a free port of 127.0.0.1 and warms it up with one session until its first image
(on a fresh runs folder that trains the default digits models first). Then, for 1 session and
for each --sessions count N, on the same server:

1. open: N sessions connect and open the Explore page at the same moment. A session's "open" is
   from its connect to its first image: the first decoded image element (decoding on the
   server) or, with decoding in the browser, the moment both the decoder weights and the live
   panel have arrived (streamlit_client.RunResult.first_image_at).
2. hover: when all have opened, each sends nothing for --hover-s seconds, as a user moving the
   mouse over a map does (the browser decodes): the messages the server sends meanwhile are
   counted (expected: none).
3. click: each session clicks --clicks points on the maps, alternating the AE's and the VAE's,
   a data point and an empty spot between two points, each as soon as the previous rerun has
   finished (no think time by default: a worst case; --think-ms adds a random pause). A click is
   the click listener's "click" event, a fragment rerun; its latency is from sending it to the
   run's script_finished. Each click is checked: no exception or st.error, a fragment run, the
   marker moved to the clicked spot; server-decoded images, if any, are fetched over HTTP as a
   browser would.

Server CPU time (/proc) per open and per click, and the server's RSS before and after each row.

    python -m benchmarks.app_load [--sessions 30 60] [--clicks 5] [--runs DIR]
    python -m benchmarks.app_load --open-only --sessions 100      # a class opening the app
    python -m benchmarks.app_load --soak [--sessions 30 --minutes 30 --think-s 5]
    python -m benchmarks.app_load --class [--students 60 --spread-s 10 --no-kill]

--open-only runs the open phase alone (no hover, no clicks). --soak runs a lesson instead
(benchmarks/soak.py): sessions looping over the pages with think time, two training jobs,
uploads and concept vectors, for --minutes; errors, latencies and the server's memory growth.
--class runs a Lesson poll instead (benchmarks/class_load.py): students answering while the
teacher's tally updates, answer-to-tally latency, the database checked, then a kill -9.

Timings are printed, never asserted. The client runs on the same CPU as the server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from benchmarks import class_load, soak
from benchmarks.common import print_table
from benchmarks.explore_client import (
    LISTENER,
    MAPS,
    click_at,
    click_problems,
    fetch_images,
    has_first_image,
    trace_points,
    warm_up,
)
from benchmarks.server import HOST, AppServer, app_server
from benchmarks.streamlit_client import StreamlitSession


@dataclass
class SessionReport:
    """One simulated session: seconds from connect to the first image, messages while hovering,
    each click's latency (seconds), and what went wrong."""

    open_s: float | None = None
    hover_messages: int | None = None
    click_s: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    messages: list[str] = field(default_factory=list)

    def fail(self, kind: str, message: str) -> None:
        self.errors[kind] += 1
        self.messages.append(f"{kind}: {message}")


class Phase:
    """A line every session reaches (or drops out at) before any goes on, so each phase's
    latencies and CPU are measured among sessions doing the same thing."""

    def __init__(self, n: int, server: AppServer) -> None:
        self.n, self.server, self.arrived, self.go = n, server, set(), asyncio.Event()
        self.clocks = (0.0, 0.0, 0.0)  # when the last one arrived: wall, server and client CPU

    def arrive(self, session: int) -> None:
        self.arrived.add(session)
        if len(self.arrived) == self.n and not self.go.is_set():
            self.clocks = clocks(self.server)
            self.go.set()

    async def reach(self, session: int) -> None:
        self.arrive(session)
        await self.go.wait()


def clocks(server: AppServer) -> tuple[float, float, float]:
    """(wall time, server CPU time, this client's CPU time) in seconds, now."""
    return time.perf_counter(), server.cpu_seconds(), time.process_time()


async def open_explore(s: StreamlitSession, connected: float, args, report) -> dict:
    """Open the Explore page until its first image; the maps' points by chart key."""
    opened = await s.open_page(until=has_first_image, timeout=args.open_timeout)
    for problem in opened.problems:
        report.fail("app error", problem)
    report.open_s = opened.first_image_at - connected
    charts = {e.key: e for e in opened.of_kind("plotly_chart")}
    return {chart: trace_points(charts[chart].proto.spec) for chart in MAPS}


async def click(session: StreamlitSession, port: int, value: dict, args, report) -> None:
    """One click on a map: time it, check it, fetch its images if the server decoded."""
    result = await session.trigger(LISTENER, "click", value, timeout=args.run_timeout)
    report.click_s.append(result.seconds)
    for kind, message in click_problems(result, value):
        report.fail(kind, message)
    if args.fetch_images and result.image_urls:
        for failure in await fetch_images(port, result.image_urls):
            report.fail("image fetch", failure)


async def run_session(
    server: AppServer, index: int, args, deadline: float, phases: list[Phase]
) -> SessionReport:
    """Open, hover, click (each phase after every session finished the one before); never
    raises. A session that fails drops out of the phases left."""
    report, rng = SessionReport(), random.Random(index)
    try:
        async with asyncio.timeout_at(deadline):
            connected = time.perf_counter()  # just before connecting, as a browser's load
            async with StreamlitSession.connect(server.ws_url) as s:
                points = await open_explore(s, connected, args, report)
                await phases[0].reach(index)
                report.hover_messages = await s.listen(args.hover_s)
                await phases[1].reach(index)
                await asyncio.sleep(args.think_ms / 1000 * rng.random())  # desynchronise
                for k in range(args.clicks):
                    await click(s, server.port, click_at(points, index, k), args, report)
                    await asyncio.sleep(args.think_ms / 1000 * rng.uniform(0.5, 1.5))
    except TimeoutError:
        report.fail("timeout", f"session {index} after {len(report.click_s)} clicks")
    except (ConnectionClosed, InvalidHandshake, OSError) as e:
        report.fail("disconnect", f"session {index}: {e!r}")
    except (KeyError, ValueError, TypeError) as e:  # the page lacks what a session needs
        report.fail("page", f"session {index}: {e!r}")
    finally:
        for phase in phases:
            phase.arrive(index)
    return report


@dataclass
class RowResult:
    """One table row's sessions and its phases' clocks (start, all opened, hovered, end)."""

    reports: list[SessionReport]
    clocks: list[tuple[float, float, float]]


async def run_sessions(server: AppServer, n: int, args) -> RowResult:
    """n sessions at once, all stopped by args.timeout seconds from now."""
    deadline = asyncio.get_running_loop().time() + args.timeout
    phases = [Phase(n, server), Phase(n, server)]
    start = clocks(server)
    reports = await asyncio.gather(
        *(run_session(server, i, args, deadline, phases) for i in range(n))
    )
    return RowResult(reports, [start, *(p.clocks for p in phases), clocks(server)])


def per_ms(start, end, count: int, which: int) -> float | str:
    """CPU milliseconds per event between two clocks: which=1 the server's, 2 this client's."""
    return (end[which] - start[which]) / count * 1000 if count else "-"


def table_row(n: int, row: RowResult, rss: tuple[float, float]) -> list:
    start, opened, hovered, end = row.clocks
    opens = [r.open_s for r in row.reports if r.open_s is not None]
    clicks = [v for r in row.reports for v in r.click_s]
    hover = [r.hover_messages for r in row.reports if r.hover_messages is not None]
    errors = sum((r.errors for r in row.reports), Counter())

    def seconds(q: float) -> float | str:
        return float(np.percentile(opens, q)) if opens else "-"

    def ms(q: float) -> float | str:
        return float(np.percentile(clicks, q)) * 1000 if clicks else "-"

    return [
        n,
        seconds(50),
        seconds(95),
        max(opens, default="-"),
        per_ms(start, opened, len(opens), 1),
        per_ms(start, opened, len(opens), 2),
        sum(hover),
        len(clicks),
        ms(50),
        ms(95),
        per_ms(hovered, end, len(clicks), 1),
        per_ms(hovered, end, len(clicks), 2),
        sum(errors.values()),
        *rss,
    ]


def print_errors(reports: list[SessionReport], n: int) -> None:
    errors = sum((r.errors for r in reports), Counter())
    if not errors:
        return
    print(f"\nErrors with {n} session(s): " + ", ".join(f"{k}: {v}" for k, v in errors.items()))
    for message in list(dict.fromkeys(m for r in reports for m in r.messages))[:8]:
        print("  " + message[:300])


def print_log_problems(server: AppServer) -> None:
    lines = server.log_problems()
    print(f"\nServer log: {len(lines)} line(s) with errors or warnings")
    for line in lines[:20]:
        print("  " + line[:300])


async def benchmark(server: AppServer, args) -> list[list]:
    warm_s = await warm_up(server, args.warmup_timeout)
    print(f"warm-up: {warm_s:.1f} s to the first image (health after {server.health_s:.1f} s)")
    rows = []
    for n in dict.fromkeys((1, *args.sessions)):
        rss_before = server.memory_mb()[0]
        row = await run_sessions(server, n, args)
        rows.append(table_row(n, row, (rss_before, server.memory_mb()[0])))
        print_errors(row.reports, n)
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sessions", type=int, nargs="+", default=[30], help="rows of sessions at once (30 60)"
    )
    parser.add_argument("--clicks", type=int, default=5, help="map clicks per session")
    parser.add_argument("--hover-s", type=float, default=1.0, help="seconds of hovering")
    parser.add_argument(
        "--runs", type=Path, default=None, help="the server's runs folder (default: a new temp one)"
    )
    parser.add_argument(
        "--think-ms", type=float, default=0.0, help="mean pause after each click (0.5x to 1.5x)"
    )
    parser.add_argument("--fetch-images", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--run-timeout", type=float, default=30.0, help="seconds per click")
    parser.add_argument("--open-timeout", type=float, default=120.0, help="seconds per page open")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per table row")
    parser.add_argument("--warmup-timeout", type=float, default=300.0)
    parser.add_argument("--open-only", action="store_true", help="the open phase alone")
    soak = parser.add_argument_group("soak (a lesson: benchmarks/soak.py)")
    soak.add_argument("--soak", action="store_true", help="run a lesson instead of the phases")
    soak.add_argument("--minutes", type=float, default=30.0, help="the lesson's length")
    soak.add_argument("--think-s", type=float, default=5.0, help="mean pause (0.5x to 1.5x)")
    soak.add_argument("--train-epochs", type=int, default=0, help="0: the app's automatic")
    soak.add_argument(
        "--settle-minutes",
        type=float,
        default=5.0,
        help="memory growth counts from here (a third of a shorter run)",
    )
    soak.add_argument("--sample-s", type=float, default=10.0, help="seconds between RSS samples")
    soak.add_argument(
        "--teacher-key",
        default="",
        help="start the server with this teacher key; trainers unlock with it "
        "(default: no key, the variable unset)",
    )
    lesson = parser.add_argument_group("class (a poll, kill -9: benchmarks/class_load.py)")
    lesson.add_argument(
        "--class", dest="class_poll", action="store_true", help="run the class poll instead"
    )
    lesson.add_argument("--students", type=int, default=60, help="students answering")
    lesson.add_argument("--spread-s", type=float, default=10.0, help="seconds the answers span")
    lesson.add_argument("--twice", type=int, default=3, help="students who change their answer")
    lesson.add_argument("--flood", type=int, default=1000, help="answers from one student")
    lesson.add_argument("--settle-s", type=float, default=30.0, help="wait for late answers")
    lesson.add_argument("--seed", type=int, default=0)
    lesson.add_argument("--kill", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    if args.open_only:
        args.clicks, args.hover_s = 0, 0.0
    return args


OPEN_COLUMNS = [
    "sessions",
    "open median s",
    "open p95 s",
    "open max s",
    "server CPU ms/open",
    "client CPU ms/open",
    "errors",
    "RSS before MB",
    "RSS after MB",
]


def print_open_table(rows: list[list]) -> None:
    """--open-only: the open columns of table_row's rows."""
    print_table(
        f"App open: sessions opening Explore at once (connect to the first image), server on "
        f"{HOST}. Target: 30 sessions in <= 3 s (median), 0 errors",
        OPEN_COLUMNS,
        [[*row[:6], *row[-3:]] for row in rows],
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.class_poll:
        class_load.main(args)
        return
    # The teacher key reaches the server through its environment (AppServer copies os.environ).
    os.environ.pop("LATENT_EXPLORER_TEACHER_KEY", None)
    if args.teacher_key:
        os.environ["LATENT_EXPLORER_TEACHER_KEY"] = args.teacher_key
    with tempfile.TemporaryDirectory(prefix="app_load_") as tmp:
        runs = args.runs or Path(tmp) / "runs"
        with app_server(runs, Path(tmp) / "server.log") as server:
            if args.soak:
                soak.report(*asyncio.run(soak.soak(server, args)), args)
                print_log_problems(server)
                return
            rows = asyncio.run(benchmark(server, args))
            if args.open_only:
                print_open_table(rows)
                print_log_problems(server)
                return
            peak = server.memory_mb()[1]
            print_table(
                f"App load: sessions opening Explore at once (open: connect to the first image), "
                f"hovering {args.hover_s:g} s, then clicking the maps (fragment reruns), server "
                f"on {HOST}, {args.think_ms:g} ms think time. Target: 30 sessions open in <= 3 s "
                "(median), zero errors",
                [
                    "sessions",
                    "open median s",
                    "open p95 s",
                    "open max s",
                    "server CPU ms/open",
                    "client CPU ms/open",
                    "msgs while hovering",
                    "clicks done",
                    "click median ms",
                    "click p95 ms",
                    "server CPU ms/click",
                    "client CPU ms/click",
                    "errors",
                    "RSS before MB",
                    "RSS after MB",
                ],
                rows,
            )
            print(f"server peak RSS: {peak:,.0f} MB")
            print("load average (1, 5, 15 min) at the end:", *(f"{x:.1f}" for x in os.getloadavg()))
            print_log_problems(server)


if __name__ == "__main__":
    main()
