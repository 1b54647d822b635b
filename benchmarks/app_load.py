"""Many sessions clicking the Explore page's slider at once: the app server's latency, errors and
memory, measured from simulated browser sessions (benchmarks/streamlit_client.py).

Starts the app on a free port of 127.0.0.1, warms it up with one session until the decode
sliders exist (on a fresh runs folder that trains the default digits models first), then runs
1 session and then --sessions concurrent sessions. The sessions open the Explore page all at
once ("open" column: a class loading the page together); when all have opened, each moves
slider `z_slider_0` --clicks times, one move after the other's run has finished (no think
time by default: a worst case; --think-ms adds a random pause, as people clicking do). A
click is a rerun of the decode fragment; its latency is from sending it to the run's
script_finished. Each click is checked: no exception or st.error, the slider took the value
sent, and at least two decoded images came back, which are then fetched over HTTP as a
browser would ("+images" column). Server and client CPU time per click are measured too.

    python -m benchmarks.app_load [--sessions 30] [--clicks 20] [--runs DIR]

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
from urllib.parse import urlsplit

import numpy as np
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from benchmarks.common import print_table
from benchmarks.server import HOST, AppServer, app_server
from benchmarks.streamlit_client import RunResult, StreamlitSession

SLIDER = "z_slider_0"
PNG_SIGNATURE = b"\x89PNG"


@dataclass
class SessionReport:
    """One simulated session: how long opening the page took, each click's latency (seconds,
    to script_finished and to the images fetched), and what went wrong."""

    open_s: float | None = None
    click_s: list[float] = field(default_factory=list)
    with_images_s: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    messages: list[str] = field(default_factory=list)

    def fail(self, kind: str, message: str) -> None:
        self.errors[kind] += 1
        self.messages.append(f"{kind}: {message}")


def has_slider(result: RunResult) -> bool:
    return result.widget(SLIDER) is not None


def click_value(low: float, high: float, session: int, click: int) -> float:
    """A slider value inside [low, high] that differs from the previous click's (7 and 20 are
    coprime) and between sessions, so every click decodes a new point."""
    step = (7 * click + session) % 20
    return low + (high - low) * (0.15 + 0.7 * step / 19)


def click_problems(result: RunResult, value: float) -> list[tuple[str, str]]:
    """(kind, message) for everything wrong with one click's run."""
    problems = [("app error", p) for p in result.problems]
    if result.status != ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
        problems.append(("not a fragment run", f"script_finished status {result.status}"))
    slider = result.widget(SLIDER)
    shown = slider.proto.value[0] if slider is not None and slider.proto.value else None
    if shown is None or not np.isclose(shown, value):
        problems.append(("value not applied", f"sent {value}, the slider shows {shown}"))
    if len(result.image_urls) < 2:
        problems.append(("no decoded image", f"{len(result.image_urls)} image(s) in the rerun"))
    return problems


async def http_get(port: int, path: str) -> tuple[int, bytes]:
    """(status, body) of a plain GET on 127.0.0.1, the way a browser fetches /media/... images."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n"
        writer.write(request.encode())
        data = await reader.read()
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def fetch_images(port: int, urls: list[str]) -> list[str]:
    """Fetch every image; the failures, described (an empty list when all are PNGs)."""
    answers = await asyncio.gather(*(http_get(port, urlsplit(u).path) for u in urls))
    return [f"{u}: HTTP {status}" for u, (status, body) in zip(urls, answers, strict=True)
            if status != 200 or PNG_SIGNATURE not in body[:16]]  # fmt: skip


async def click(session: StreamlitSession, port: int, value: float, args, report) -> None:
    """One slider move: time it, check it, fetch its images."""
    result = await session.set_slider(SLIDER, value, timeout=args.run_timeout)
    report.click_s.append(result.seconds)
    for kind, message in click_problems(result, value):
        report.fail(kind, message)
    if args.fetch_images and result.image_urls:
        for failure in await fetch_images(port, result.image_urls):
            report.fail("image fetch", failure)
        report.with_images_s.append(time.perf_counter() - result.sent)


class StartLine:
    """Holds the clicks back until every session has opened the page (or failed to), so the
    click latencies measure concurrent clicking, not clicks among other sessions' page loads."""

    def __init__(self, n: int, server: AppServer) -> None:
        self.n, self.server, self.arrived, self.go = n, server, set(), asyncio.Event()
        self.clocks = (0.0, 0.0, 0.0)  # when the last one arrived: wall, server and client CPU

    def arrive(self, session: int) -> None:
        self.arrived.add(session)
        if len(self.arrived) == self.n and not self.go.is_set():
            self.clocks = clocks(self.server)
            self.go.set()


def clocks(server: AppServer) -> tuple[float, float, float]:
    """(wall time, server CPU time, this client's CPU time) in seconds, now."""
    return time.perf_counter(), server.cpu_seconds(), time.process_time()


@dataclass
class RowResult:
    """One table row's sessions, and the click phase's throughput and CPU cost per click."""

    reports: list[SessionReport]
    clicks_per_s: float
    server_cpu_ms: float | str  # per click ("-" without clicks)
    client_cpu_ms: float | str


async def open_explore(session: StreamlitSession, args, report: SessionReport) -> None:
    """Open the Explore page until its sliders are there; record the time and any error."""
    start = time.perf_counter()
    opened = await session.open_page(until=has_slider, timeout=args.open_timeout)
    report.open_s = time.perf_counter() - start
    for problem in opened.problems:
        report.fail("app error", problem)


async def run_session(
    server: AppServer, index: int, args, deadline: float, start_line: StartLine
) -> SessionReport:
    """Open the Explore page, wait for the others, then click the slider args.clicks times;
    never raises."""
    report = SessionReport()
    try:
        async with asyncio.timeout_at(deadline), StreamlitSession.connect(server.ws_url) as s:
            try:
                await open_explore(s, args, report)
            finally:
                start_line.arrive(index)
            await start_line.go.wait()
            slider, rng = s.widgets[SLIDER].proto, random.Random(index)
            await asyncio.sleep(args.think_ms / 1000 * rng.random())  # desynchronise the start
            for k in range(args.clicks):
                value = click_value(slider.min, slider.max, index, k)
                await click(s, server.port, value, args, report)
                await asyncio.sleep(args.think_ms / 1000 * rng.uniform(0.5, 1.5))
    except TimeoutError:
        report.fail("timeout", f"session {index} after {len(report.click_s)} clicks")
    except (ConnectionClosed, InvalidHandshake, OSError) as e:
        report.fail("disconnect", f"session {index}: {e!r}")
    finally:
        start_line.arrive(index)
    return report


async def run_sessions(server: AppServer, n: int, args) -> RowResult:
    """n sessions at once, all stopped by args.timeout seconds from now."""
    deadline = asyncio.get_running_loop().time() + args.timeout
    start_line = StartLine(n, server)
    reports = await asyncio.gather(
        *(run_session(server, i, args, deadline, start_line) for i in range(n))
    )
    wall, server_cpu, client_cpu = (
        end - start for end, start in zip(clocks(server), start_line.clocks, strict=True)
    )
    clicks = sum(len(r.click_s) for r in reports)
    if not clicks:
        return RowResult(reports, 0.0, "-", "-")
    return RowResult(reports, clicks / wall, server_cpu / clicks * 1e3, client_cpu / clicks * 1e3)


async def warm_up(server: AppServer, timeout: float) -> float:
    """One session until the decode sliders exist (trains the default models on a fresh runs
    folder, imports torch, fills the caches); seconds it took."""
    start = time.perf_counter()
    async with StreamlitSession.connect(server.ws_url) as session:
        result = await session.open_page(until=has_slider, timeout=timeout)
    if result.problems:
        print("warm-up run reported:", *result.problems, sep="\n  ")
    return time.perf_counter() - start


def percentile_ms(values: list[float], q: float) -> float | str:
    return float(np.percentile(values, q)) * 1000 if values else "-"


def table_row(n: int, args, row: RowResult, rss: tuple[float, float]) -> list:
    clicks = [v for r in row.reports for v in r.click_s]
    with_images = [v for r in row.reports for v in r.with_images_s]
    opens = [r.open_s for r in row.reports if r.open_s is not None]
    errors = sum((r.errors for r in row.reports), Counter())
    return [
        n, args.clicks, len(clicks), float(np.median(opens)) if opens else "-",
        percentile_ms(clicks, 50), percentile_ms(clicks, 95), percentile_ms(with_images, 95),
        max(clicks, default=0) * 1000, row.clicks_per_s, row.server_cpu_ms, row.client_cpu_ms,
        sum(errors.values()), *rss,
    ]  # fmt: skip


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
    print(f"warm-up: {warm_s:.1f} s to the decode sliders (health after {server.health_s:.1f} s)")
    rows = []
    for n in dict.fromkeys((1, args.sessions)):
        rss_before = server.memory_mb()[0]
        row = await run_sessions(server, n, args)
        rows.append(table_row(n, args, row, (rss_before, server.memory_mb()[0])))
        print_errors(row.reports, n)
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--clicks", type=int, default=20, help="slider moves per session")
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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="app_load_") as tmp:
        runs = args.runs or Path(tmp) / "runs"
        with app_server(runs, Path(tmp) / "server.log") as server:
            rows = asyncio.run(benchmark(server, args))
            peak = server.memory_mb()[1]
            print_table(
                f"App load: sessions moving slider {SLIDER} on Explore (fragment reruns), "
                f"server on {HOST}, {args.think_ms:g} ms think time. "
                "Target: p95 < 1 s, zero errors",
                ["sessions", "clicks each", "clicks done", "open median s", "median ms",
                 "p95 ms", "p95 +images ms", "max ms", "clicks/s", "server CPU ms/click",
                 "client CPU ms/click", "errors", "RSS before MB", "RSS after MB"],
                rows,
            )  # fmt: skip
            print(f"server peak RSS: {peak:,.0f} MB")
            print("load average (1, 5, 15 min) at the end:", *(f"{x:.1f}" for x in os.getloadavg()))
            print_log_problems(server)


if __name__ == "__main__":
    main()
