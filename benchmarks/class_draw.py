"""The drawings of benchmarks/class_load.py, sent through the page as a browser's pad sends them:
a student's steps on Explore (open it on digits, turn "Draw an input" on, send the pad's "send"
event), the teacher's class map as a second teacher tab watches it, forged drawings, and the
database read against what each student sent."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.exceptions import ConnectionClosed

from benchmarks.class_client import (
    KEY,
    Sketch,
    Student,
    latencies,
    new_cookie,
    problems_of,
    quantile,
)
from benchmarks.server import AppServer
from benchmarks.streamlit_client import RunResult, StreamlitSession, string_state, trigger_state
from explorer.server.classdb import ClassDB
from explorer.ui.class_map import EVERY_S
from explorer.ui.draw import PAD_KEY
from explorer.ui.state import owner_from_cookie
from training.checkpoints import load_checkpoint
from training.data import load_dataset

DATASET = "digits"
QUERY = f"dataset={DATASET}"  # the address a student opens Explore at
TOGGLE = "draw"  # "Draw an input: ..." (explorer/views/explore.py)
KINDS = ("ae", "vae")
CAPTION = re.compile(rf"(\d+) drawings? on {DATASET}")
# Forged "send" values a page could carry: what each is, and its pixels.
FORGED = {
    "a list of 63 pixels": [0] * 63,
    "a string": "'; DROP TABLE drawings; --",
}


@dataclass
class Shown:
    """One class map the teacher's tab showed: its caption's arrival (time.perf_counter()) and
    count, the pictures on each chart, and its run's seconds."""

    arrived: float
    count: int
    images: tuple[int, ...]
    seconds: float


@dataclass
class DrawingChecks:
    """The drawings table against what the students sent: rows, owners who are no student,
    images unlike what their student sent, codes not finite or of the wrong size, students
    whose "Sent" drawing is missing."""

    rows: int = 0
    foreign: int = 0
    wrong_image: int = 0
    bad_codes: int = 0
    missing: int = 0


@dataclass
class Drawings:
    """What the class's drawings measured and checked; timings in seconds."""

    checks: DrawingChecks = field(default_factory=DrawingChecks)
    toasts: dict[str, int] = field(default_factory=dict)  # "Sent", "Not sent", none -> students
    send_s: list[float] = field(default_factory=list)  # send to its "Sent" toast
    send_run_s: list[float] = field(default_factory=list)  # send to the rerun's end
    pad_open_s: list[float] = field(default_factory=list)  # Explore's run and the toggle's
    late: int = 0  # drawings whose pad opened after their moment (sent at once)
    map_latency_s: list[float] = field(default_factory=list)
    not_on_map: int = 0
    maps: list[Shown] = field(default_factory=list)
    forged: dict[str, str] = field(default_factory=dict)  # what was sent -> what happened
    problems: list[str] = field(default_factory=list)


def sketches(n: int, spread_s: float, seed: int) -> list[Sketch]:
    """n different real digits (0-255, planar), each sent at a random moment of the window."""
    rng = np.random.default_rng(seed)
    pixels = load_dataset(DATASET).pixels  # (N, 1, 8, 8) uint8
    chosen = rng.choice(len(pixels), size=n, replace=False)
    moments = rng.uniform(0, spread_s, size=n)
    pairs = zip(chosen, moments, strict=True)
    return [Sketch(pixels[i].ravel().tolist(), float(t)) for i, t in pairs]


def toast_of(result: RunResult) -> str:
    return " ".join(e.proto.body for e in result.of_kind("toast"))


async def open_pad(s: StreamlitSession, problems: list[str], timeout: float = 120) -> None:
    """Explore on digits, then the "draw" toggle on (a full rerun that adds the pad)."""
    problems += problems_of(await s.open_page("", query=QUERY, timeout=timeout))
    toggle = s.widgets[TOGGLE].proto
    state = WidgetState(id=toggle.id, bool_value=True)
    problems += problems_of(await s.rerun([state], timeout=timeout))
    if PAD_KEY not in s.widgets:
        problems.append("the draw toggle showed no pad")


async def send(s: StreamlitSession, pixels: object) -> tuple[RunResult, str]:
    """The pad's "send" with pixels; the run and its toasts."""
    result = await s.trigger(PAD_KEY, "send", {"pixels": pixels}, timeout=120)
    return result, toast_of(result)


async def draw(s: StreamlitSession, student: Student, t0: float) -> None:
    """After its answer: Explore, the pad, and its drawing sent at t0 + sketch.at (at once
    if that moment passed while the pages opened)."""
    sketch = student.sketch
    sketch.opening = time.perf_counter()
    await open_pad(s, student.problems)
    sketch.ready = time.perf_counter()
    await asyncio.sleep(max(0.0, t0 + sketch.at - sketch.ready))
    sketch.late = sketch.ready > t0 + sketch.at
    sketch.sent = time.perf_counter()
    result, sketch.toast = await send(s, sketch.pixels)
    sketch.seconds = result.seconds
    toasts = [e.received for e in result.of_kind("toast")]
    sketch.toasted = toasts[0] - sketch.sent if toasts else None
    student.problems += problems_of(result)


def has_toggle(result: RunResult) -> bool:
    return result.widget(TOGGLE) is not None


async def warm_up(server: AppServer, runs: Path, timeout: float = 600) -> None:
    """Explore on digits until its pad can open: on a fresh runs folder the app trains the
    default pair first (the class waits for the full pair, not the preview)."""
    async with StreamlitSession.connect(server.ws_url, xsrf=await new_cookie(server)) as s:
        await s.open_page("", until=has_toggle, query=QUERY, timeout=timeout)
    async with asyncio.timeout(timeout):
        while not all((runs / "default" / DATASET / f"{k}.safetensors").exists() for k in KINDS):
            await asyncio.sleep(0.5)


def shown_of(result: RunResult) -> Shown | None:
    """The class map in this run (its caption and the two charts' pictures), or None."""
    found = next((e for e in result.of_kind("markdown") if CAPTION.search(e.proto.body)), None)
    if found is None:
        return None
    count = int(CAPTION.search(found.proto.body).group(1))
    charts = [e for e in result.of_kind("plotly_chart") if "class_map_" in e.proto.id]
    images = tuple(len(json.loads(e.proto.spec)["layout"].get("images", ())) for e in charts)
    return Shown(found.received, count, images, result.seconds)


async def class_map(
    server: AppServer, stop: asyncio.Event, ready: asyncio.Event
) -> tuple[list[Shown], list[str]]:
    """A second teacher tab on Explore until stop, its class map fragment rerunning EVERY_S
    after the last run ended, as the browser's timer does: the maps it showed, its problems."""
    shown, problems = [], []
    try:
        async with StreamlitSession.connect(server.ws_url, xsrf=await new_cookie(server)) as s:
            problems += problems_of(await s.open_page("", query=QUERY, timeout=120))
            unlock = [
                string_state(s.widgets["teacher_key"].proto.id, KEY),
                trigger_state(s.widgets["teacher_unlock"].proto.id),
            ]
            problems += problems_of(await s.rerun(unlock))
            result = await s.rerun()  # the page as the teacher's, with the class map
            captions = result.of_kind("markdown")
            fragment = next((e.fragment_id for e in captions if CAPTION.search(e.proto.body)), "")
            while True:
                problems += problems_of(result)
                found = shown_of(result)
                if found is None:
                    problems.append("the teacher's Explore has no class map")
                    break
                shown.append(found)
                ready.set()
                if stop.is_set():
                    break
                await asyncio.sleep(EVERY_S)
                result = await s.rerun(fragment_id=fragment, is_auto_rerun=True)
    except (ConnectionClosed, OSError, KeyError, ValueError, TimeoutError) as e:
        problems.append(f"class map: {e!r}"[:200])
    ready.set()
    return shown, problems


async def forge(server: AppServer, pixels: object) -> tuple[str, str, list[str]]:
    """A fresh student who sends forged pixels from the pad: (owner, toast, problems)."""
    cookie, problems = await new_cookie(server), []
    async with StreamlitSession.connect(server.ws_url, xsrf=cookie) as s:
        await open_pad(s, problems)
        result, toast = await send(s, pixels)
        problems += problems_of(result)
    return owner_from_cookie(cookie), toast, problems


def check(db: ClassDB, students: list[Student], latent_dim: int) -> DrawingChecks:
    """Every drawing stored against the student who sent it."""
    stored = {d.owner: d for d in db.drawings(DATASET)}
    sent = {s.owner: s.sketch for s in students if s.sketch is not None}
    checks = DrawingChecks(rows=len(db.drawings(DATASET)))
    checks.foreign = len(set(stored) - set(sent))
    for owner, drawing in stored.items():
        sketch = sent.get(owner)
        if sketch is not None and drawing.image.ravel().tolist() != sketch.pixels:
            checks.wrong_image += 1
        sizes_ok = all(len(drawing.codes.get(k, ())) == latent_dim for k in KINDS)
        finite = all(np.isfinite(drawing.codes.get(k, ())).all() for k in KINDS)
        checks.bad_codes += not (sizes_ok and finite)
    checks.missing = sum(o not in stored and "Sent" in k.toast for o, k in sent.items())
    return checks


def summarize(db: ClassDB, runs: Path, students: list[Student], maps: list[Shown]) -> Drawings:
    """The drawings' toasts, timings, class map latency and rows against what was sent."""
    sketched = [s.sketch for s in students]
    drawings = Drawings(maps=maps)
    drawings.toasts = dict(Counter(k.toast.split(":")[0] if k.toast else "none" for k in sketched))
    drawings.send_s = [k.toasted for k in sketched if k.toasted is not None]
    drawings.send_run_s = [k.seconds for k in sketched if k.seconds is not None]
    drawings.pad_open_s = [k.ready - k.opening for k in sketched if k.ready is not None]
    drawings.late = sum(k.late for k in sketched)
    owners = [d.owner for d in db.drawings(DATASET)]  # oldest first: their commit order
    sent = {s.owner: s.sketch.sent for s in students}
    counts = [(m.arrived, m.count) for m in maps]
    drawings.map_latency_s, drawings.not_on_map = latencies(sent, owners, counts)
    latent_dim = load_checkpoint(runs / "default" / DATASET / "ae.safetensors").config.latent_dim
    drawings.checks = check(db, students, latent_dim)
    last = maps[-1] if maps else None
    if last is None or last.images != (last.count, last.count):
        drawings.problems.append(f"the last class map shows {last}, not one picture per drawing")
    return drawings


async def forgeries(server: AppServer, db: ClassDB) -> dict[str, str]:
    """Each forged drawing: its toast, its page's problems, what was stored."""
    found = {}
    for what, pixels in FORGED.items():
        owner, toast, problems = await forge(server, pixels)
        kept = any(d.owner == owner for d in db.drawings(DATASET))
        toast = "a 'Not sent' toast" if toast.startswith("Not sent") else f"toast {toast!r}"
        shown = f"{len(problems)} problem(s): {problems[0]}" if problems else "no problem"
        found[what] = f"{toast}, {shown}, stored: {'it' if kept else 'nothing'}"
    return found


def rows(drawings: Drawings, n: int) -> list[list]:
    """The drawings' rows of the class poll's table, for n students (the forged ones apart)."""
    checks, map_runs = drawings.checks, [m.seconds for m in drawings.maps[1:]]  # fragment runs
    toasts = " / ".join(str(drawings.toasts.get(k, 0)) for k in ("Sent", "Not sent", "none"))
    return [
        ["drawing toasts: Sent / Not sent / none", toasts, f"{n} / 0 / 0"],
        ["Explore + draw toggle (after the answer) p50 s", quantile(drawings.pad_open_s, 50), ""],
        ["Explore + draw toggle p95 s", quantile(drawings.pad_open_s, 95), ""],
        ["drawings sent at once (their moment passed before the pad opened)", drawings.late, ""],
        ["drawing send-to-'Sent' toast p50 s", quantile(drawings.send_s, 50), ""],
        ["drawing send-to-'Sent' toast p95 s", quantile(drawings.send_s, 95), ""],
        ["drawing send's rerun p50 s", quantile(drawings.send_run_s, 50), ""],
        ["drawing send's rerun p95 s", quantile(drawings.send_run_s, 95), ""],
        ["drawing-to-class-map p50 s", quantile(drawings.map_latency_s, 50), ""],
        ["drawing-to-class-map p95 s", quantile(drawings.map_latency_s, 95), ""],
        ["drawings no class map showed", drawings.not_on_map, "0"],
        ["class maps received (second teacher tab)", len(drawings.maps), ""],
        ["class map rerun p50 s", quantile(map_runs, 50), ""],
        ["class map rerun p95 s", quantile(map_runs, 95), ""],
        ["drawings in the database", checks.rows, str(n)],
        [
            "drawings: foreign / image not as sent / codes bad / 'Sent' but missing",
            f"{checks.foreign} / {checks.wrong_image} / {checks.bad_codes} / {checks.missing}",
            "0",
        ],
    ]
