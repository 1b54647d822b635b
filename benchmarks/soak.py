"""A lesson on one server (`python -m benchmarks.app_load --soak`): N simulated browsers for M
minutes with think time, two of them keeping two training jobs running on the Train page, the
others doing what students do; errors, the latency of every interaction, and the server's memory.

Each browser gets its own XSRF cookie (as from its first /_stcore/health answer) and keeps it
across reloads, so the app sees one owner per browser. Students loop, pausing 0.5x to 1.5x
--think-s after every interaction, over: open Explore (to its first image) and click 1 to 4
points of the maps; open Generate and move the grid-size slider; open Concepts and make a
concept vector between two random classes; upload a PNG to edit with the vector (the file
uploader: an upload URL over the websocket, an HTTP PUT with the XSRF token, a rerun); open
Instruments; now and then reload (a new session). Trainers submit the Train form, poll the job
list as an open browser does (the page's 1 s fragment), and submit again when their job ends; a
refusal by the job cap is expected and counted apart, not as an error. With --teacher-key the
server starts with that key: trainers (the teacher's browsers) enter it in the sidebar's Teacher
form; students do not, and their uploads' refusals are counted as expected.

Errors: exceptions and st.error elements the app draws (except EXPECTED_REFUSALS), timeouts,
disconnects, failed image fetches or uploads, a map click whose marker did not move, a session
still busy GRACE_S after the end (with where it waits). The server's RSS is sampled every
--sample-s seconds; its growth runs from the median of the first minute after the settle mark (5
minutes, or a third of a shorter run; shorter medians too) to the median of the last minute.
"""

from __future__ import annotations

import asyncio
import io
import os
import random
import time
import urllib.error
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
from PIL import Image
from streamlit.proto.TextInput_pb2 import TextInput
from websockets.exceptions import ConnectionClosed, InvalidHandshake

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
from benchmarks.server import AppServer
from benchmarks.streamlit_client import (
    RunResult,
    StreamlitSession,
    WidgetState,
    string_state,
    trigger_state,
    xsrf_cookie,
)

TRAINERS = 2  # sessions keeping a training job running each (the server's cap is 2)
# st.error texts that are the app doing its job, not failing: the server's job cap, a rate limit.
EXPECTED_REFUSALS = ("the limit is", "try again in")
# What a student does next, and how often (weights).
STUDENT_ACTIONS = {
    "explore": 4,
    "generate": 1,
    "concepts": 2,
    "upload": 1,
    "instruments": 1,
    "reload": 0.25,
}
GRACE_S = 120.0  # after the end, for the interactions under way
WINDOW_S = 60.0  # RSS medians over this long at the settle mark and at the end


def summarize(values: list[float]) -> tuple[int, float | None, float | None, float | None]:
    """(count, median, p95, max) of values; None for the statistics of an empty list."""
    if not values:
        return 0, None, None, None
    return len(values), *(float(v) for v in np.percentile(values, [50, 95, 100]))


def settle_seconds(duration_s: float, settle_s: float) -> float:
    """When memory growth starts to count: settle_s, or a third of a run shorter than 3x it."""
    return min(settle_s, duration_s / 3)


def rss_growth(samples: list[tuple[float, float]], settle_s: float, window_s: float = WINDOW_S):
    """(base MB, end MB, growth %) from (seconds since start, RSS MB) samples in time order: the
    median over window_s after settle_s against the median over the last window_s. None for all
    three when no sample falls after settle_s."""
    after = [(t, mb) for t, mb in samples if t >= settle_s]
    if not after:
        return None, None, None
    base = float(np.median([mb for t, mb in after if t <= after[0][0] + window_s]))
    end = float(np.median([mb for t, mb in after if t >= after[-1][0] - window_s]))
    return base, end, (end - base) / base * 100


@dataclass
class Log:
    """Every session's interactions: seconds by action, errors and expected refusals by action,
    counts of what got done, and the first messages of each kind of error."""

    seconds: defaultdict = field(default_factory=lambda: defaultdict(list))
    errors: Counter = field(default_factory=Counter)
    refused: Counter = field(default_factory=Counter)
    done: Counter = field(default_factory=Counter)
    messages: list[str] = field(default_factory=list)

    def fail(self, action: str, message: str) -> None:
        self.errors[action] += 1
        if len(self.messages) < 200:
            self.messages.append(f"{action}: {message}")

    def record(self, action: str, result: RunResult, seconds: float | None = None) -> RunResult:
        """Count one interaction: its latency (the run's, unless given) and its problems."""
        self.seconds[action].append(result.seconds if seconds is None else seconds)
        for problem in result.problems:
            if any(text in problem for text in EXPECTED_REFUSALS):
                self.refused[action] += 1
            else:
                self.fail(action, problem)
        return result


def png_image(rng: random.Random, side: int = 48) -> bytes:
    """A small random greyscale PNG, different each time (a photo of a digit, roughly)."""
    pixels = np.random.default_rng(rng.getrandbits(32)).integers(0, 256, (side, side), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "L").save(buffer, "PNG")
    return buffer.getvalue()


class Browser:
    """One simulated browser: its cookie, its random choices, the run's shared log and limits."""

    HAS_KEY = False  # whether it enters --teacher-key where the sidebar asks for it

    def __init__(self, server: AppServer, index: int, args, log: Log, deadline: float) -> None:
        self.server, self.index, self.args, self.log = server, index, args, log
        self.deadline, self.rng = deadline, random.Random(index)
        self.unlocked = not (self.HAS_KEY and args.teacher_key)
        self.train_button = None  # the Train form's submit button, once seen
        self.clicks = 0  # map clicks so far: the app skips a click whose seq it just handled

    async def think(self) -> None:
        await asyncio.sleep(self.args.think_s * self.rng.uniform(0.5, 1.5))

    async def visit(self, s: StreamlitSession) -> None:
        """What this browser does on one connection, until the end or a reload."""
        raise NotImplementedError

    async def run(self) -> None:
        """Connect, visit until the end, reconnect after a reload or a failure (a pause first,
        as a person would). Never raises."""
        await asyncio.sleep(self.args.think_s * self.rng.random())  # desynchronise the starts
        cookie = await asyncio.to_thread(xsrf_cookie, self.server.http_url)
        while time.perf_counter() < self.deadline:
            try:
                async with StreamlitSession.connect(self.server.ws_url, xsrf=cookie) as s:
                    await self.visit(s)
                continue
            except TimeoutError:
                self.log.fail("timeout", f"browser {self.index}")
            except urllib.error.URLError as e:  # before OSError, of which it is a kind
                self.log.fail("http", f"browser {self.index}: {e!r}")
            except (ConnectionClosed, InvalidHandshake, OSError) as e:
                self.log.fail("disconnect", f"browser {self.index}: {e!r}")
            except (KeyError, ValueError, TypeError, RuntimeError) as e:  # a widget missing
                self.log.fail("page", f"browser {self.index}: {e!r}")
            await self.think()

    async def open(self, s: StreamlitSession, page: str, action: str) -> RunResult:
        result = self.log.record(action, await s.open_page(page, timeout=self.args.open_timeout))
        if not self.unlocked:
            result = await self.unlock(s, result) or result
        return result

    async def unlock(self, s: StreamlitSession, result: RunResult) -> RunResult | None:
        """Enter the teacher key in the sidebar's form, if this page shows it."""
        field_ = next(
            (e for e in result.of_kind("text_input") if e.proto.type == TextInput.PASSWORD), None
        )
        submit = result.find("button", "Unlock")
        if field_ is None or submit is None:
            return None
        states = [
            string_state(field_.proto.id, self.args.teacher_key),
            trigger_state(submit.proto.id),
        ]
        self.unlocked = True
        self.log.record("enter the teacher key", await s.rerun(states))
        return await s.open_page(s.page_name, timeout=self.args.open_timeout)

    async def fetch(self, action: str, result: RunResult) -> None:
        """Fetch a run's server-decoded images, as a browser does."""
        if result.image_urls:
            async with asyncio.timeout(self.args.run_timeout):  # a plain GET has no timeout
                failures = await fetch_images(self.server.port, result.image_urls)
            for failure in failures:
                self.log.fail(action, f"image fetch {failure}")


class Student(Browser):
    async def visit(self, s: StreamlitSession) -> None:
        actions, weights = zip(*STUDENT_ACTIONS.items(), strict=True)
        while time.perf_counter() < self.deadline:
            action = self.rng.choices(actions, weights)[0]
            if action == "reload" and s.page_script_hash:
                self.log.done["reloads"] += 1
                return
            await getattr(self, action, self.explore)(s)
            await self.think()

    async def explore(self, s: StreamlitSession) -> None:
        start = time.perf_counter()
        opened = await s.open_page(until=has_first_image, timeout=self.args.open_timeout)
        self.log.record("open Explore (first image)", opened, opened.first_image_at - start)
        charts = {e.key: e for e in opened.of_kind("plotly_chart")}
        points = {chart: trace_points(charts[chart].proto.spec) for chart in MAPS}
        for _ in range(self.rng.randint(1, 4)):
            await self.think()
            self.clicks += 1
            value = click_at(points, self.rng.randrange(1000), self.clicks)
            result = await s.trigger(LISTENER, "click", value, self.args.run_timeout)
            self.log.seconds["click a map"].append(result.seconds)
            for _, message in click_problems(result, value):
                self.log.fail("click a map", message)
            await self.fetch("click a map", result)

    async def generate(self, s: StreamlitSession) -> None:
        await self.fetch("open Generate", await self.open(s, "generate", "open Generate"))
        await self.think()
        moved = await s.set_slider("grid_n", self.rng.randint(4, 20), self.args.run_timeout)
        await self.fetch("grid-size slider", self.log.record("grid-size slider", moved))

    async def instruments(self, s: StreamlitSession) -> None:
        await self.fetch("open Instruments", await self.open(s, "instruments", "open Instruments"))

    async def concepts(self, s: StreamlitSession) -> RunResult:
        """Make a vector from one random class towards another (each choice a rerun)."""
        await self.open(s, "concepts", "open Concepts")
        classes = self.rng.sample(list(s.widgets["concept_from"].proto.options), 2)
        for key, option in zip(("concept_from", "concept_to"), classes, strict=True):
            await self.think()
            self.log.record("pick a class", await s.choose(key, option, self.args.run_timeout))
        await self.think()
        made = self.log.record("make a vector", await s.click_button("make_concept"))
        self.log.done["vectors made"] += 1
        await self.fetch("make a vector", made)
        return made

    async def upload(self, s: StreamlitSession) -> None:
        """Edit an uploaded PNG with a vector (making one first if this session has none)."""
        page = await self.open(s, "concepts", "open Concepts")
        if page.widget("edit_source") is None:
            await self.think()
            page = await self.concepts(s)
        await self.think()
        chosen = await s.choose("edit_source", "your own image", self.args.run_timeout)
        self.log.record("choose your own image", chosen)
        if chosen.widget("edit_upload") is None:
            if self.args.teacher_key:  # uploads locked for students: the app's job
                self.log.refused["upload an image"] += 1
            else:
                self.log.fail("upload an image", "no file uploader after 'your own image'")
            return
        await self.think()
        start, png = time.perf_counter(), png_image(self.rng)
        result = await s.upload(
            "edit_upload", f"photo{self.index}.png", png, "image/png", self.args.run_timeout
        )
        self.log.record("upload an image", result, time.perf_counter() - start)
        self.log.done["uploads"] += 1
        await self.fetch("upload an image", result)


class Trainer(Browser):
    """Keeps one training job running: submit, poll until it ends, submit again. The teacher:
    it has the key, when one is set."""

    HAS_KEY = True

    async def visit(self, s: StreamlitSession) -> None:
        page = await self.open(s, "train", "open Train")
        self.train_button = page.find("button", "Train")
        while time.perf_counter() < self.deadline:
            if any((e.key or "").startswith("cancel_") for e in page.elements):
                page = self.log.record("poll Train (every 1 s)", await s.poll())
                if not any((e.key or "").startswith("cancel_") for e in page.elements):
                    self.log.done["jobs ended"] += 1
                continue
            await self.think()
            page = await self.submit(s)

    async def submit(self, s: StreamlitSession) -> RunResult:
        """Submit the Train form (with --train-epochs, if set, in its epochs field)."""
        if self.train_button is None:
            raise KeyError("no Train button on the Train page")
        states = [trigger_state(self.train_button.proto.id)]
        if self.args.train_epochs:
            epochs = s.widgets["train_epochs"].proto.id
            states.append(WidgetState(id=epochs, double_value=self.args.train_epochs))
        result = self.log.record("submit Train", await s.rerun(states))
        refused = any(t in p for p in result.problems for t in EXPECTED_REFUSALS)
        self.log.done["jobs refused by the cap" if refused else "jobs started"] += 1
        return result


async def sample_memory(server: AppServer, start: float, until: float, every: float, samples):
    """Append (seconds since start, RSS MB) every `every` seconds until `until`; print a line a
    minute so that a long run shows it is alive."""
    while (now := time.perf_counter()) < until:
        samples.append((now - start, server.memory_mb()[0]))
        if len(samples) % max(1, round(60 / every)) == 1:
            print(f"  {samples[-1][0] / 60:4.1f} min: server RSS {samples[-1][1]:,.0f} MB")
        await asyncio.sleep(every)


async def soak(server: AppServer, args) -> tuple[Log, list, float, float]:
    """Run the lesson; (log, RSS samples, wall seconds, server CPU seconds)."""
    await warm_up(server, args.warmup_timeout)
    n, log, samples = args.sessions[0], Log(), []
    start, cpu = time.perf_counter(), server.cpu_seconds()
    deadline = start + args.minutes * 60
    browsers = [
        (Trainer if i < min(TRAINERS, n - 1) else Student)(server, i, args, log, deadline)
        for i in range(n)
    ]
    sampler = asyncio.create_task(sample_memory(server, start, deadline, args.sample_s, samples))
    tasks = [asyncio.create_task(b.run(), name=f"browser {b.index}") for b in browsers]
    _, stuck = await asyncio.wait(tasks, timeout=deadline + GRACE_S - time.perf_counter())
    for task in stuck:  # say where each one waits, so that a hang can be found
        frames = task.get_stack()
        where = " <- ".join(f"{f.f_code.co_name}:{f.f_lineno}" for f in reversed(frames[-4:]))
        log.fail("still busy at the end", f"{task.get_name()} after {GRACE_S:g} s, in {where}")
        task.cancel()
    await asyncio.gather(*stuck, return_exceptions=True)
    sampler.cancel()
    return log, samples, time.perf_counter() - start, server.cpu_seconds() - cpu


def ms_cells(*seconds: float | None) -> list:
    return ["-" if v is None else v * 1000 for v in seconds]


def report(log: Log, samples: list, wall: float, cpu: float, args) -> None:
    rows = []
    for action, values in sorted(log.seconds.items()):
        count, median, p95, top = summarize(values)
        rows.append(
            [action, count, *ms_cells(median, p95, top), log.errors[action], log.refused[action]]
        )
    # Timeouts, disconnects, uploads refused before any was timed, ...
    for action in sorted((set(log.errors) | set(log.refused)) - set(log.seconds)):
        rows.append([action, "-", "-", "-", "-", log.errors[action], log.refused[action]])
    # The Train page's 1 s polls are an open tab's, not a person's: left out of the total.
    every = [v for a, values in log.seconds.items() if not a.startswith("poll") for v in values]
    count, median, p95, top = summarize(every)
    rows.append(
        [
            "all (but the polls)",
            count,
            *ms_cells(median, p95, top),
            sum(log.errors.values()),
            sum(log.refused.values()),
        ]
    )
    n = args.sessions[0]
    print_table(
        f"Soak: {n} sessions ({min(TRAINERS, n - 1)} keeping a training job running) for "
        f"{args.minutes:g} min ({wall / 60:.1f} min to the last answer), think time "
        f"{args.think_s:g} s (0.5x-1.5x). Target: 0 errors",
        ["interaction", "count", "median ms", "p95 ms", "max ms", "errors", "refused (expected)"],
        rows,
    )
    settle = settle_seconds(args.minutes * 60, args.settle_minutes * 60)
    window = min(WINDOW_S, (args.minutes * 60 - settle) / 4)  # a short run: shorter medians
    base, end, growth = rss_growth(samples, settle, window)
    done = ", ".join(f"{k}: {v}" for k, v in sorted(log.done.items())) or "-"
    print_table(
        "Soak: the server",
        ["measure", "value"],
        [
            ["done", done],
            [
                "server RSS at the start / peak MB",
                f"{samples[0][1]:,.0f} / {max(mb for _, mb in samples):,.0f}" if samples else "-",
            ],
            [
                f"RSS at {settle / 60:.1f} min -> end, MB (medians of {window:g} s)",
                "-" if base is None else f"{base:,.0f} -> {end:,.0f}",
            ],
            [
                "RSS growth after the settle mark (target <= 10%)",
                "-" if growth is None else f"{growth:+.1f}%",
            ],
            ["server CPU (of one core)", f"{cpu / wall * 100:.0f}%"],
            [
                "load average (1, 5, 15 min) at the end",
                ", ".join(f"{x:.1f}" for x in os.getloadavg()),
            ],
        ],
    )
    for message in list(dict.fromkeys(log.messages))[:10]:
        print("  " + message[:300])
