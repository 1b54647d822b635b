"""Seconds from launching the app to the first decoded image, as a user sees it.

Launches `python -m streamlit run explorer/app.py` (benchmarks/server.py), connects a simulated
browser session (benchmarks/streamlit_client.py) as soon as /_stcore/health answers, opens the
Explore page and follows its reruns, the training-progress fragment's auto-reruns included,
until a run delivers image elements (the data point and its reconstructions). On the app's
opening dataset (faces: its pair ships) or --dataset's. Two scenarios:

  fresh:  a new machine: an empty runs folder and an empty data cache (the faces are drawn;
          digits train their default models in the background while the page shows progress);
  on disk: the runs folder and cache the fresh start left, so the saved models are loaded.

    python -m benchmarks.app_startup [--dataset digits] [--fresh-runs 1] [--warm-runs 3]

All times are from the launch. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import print_table
from benchmarks.server import AppServer
from benchmarks.streamlit_client import StreamlitSession


@dataclass
class Startup:
    """Seconds from the launch to: the health answer, the end of the first page run (with the
    training progress on a fresh start), and the first image element; and how long the run
    that brought that image took, from its request (a poll of the progress fragment on a fresh
    start: then it includes loading the new models)."""

    health_s: float
    page_s: float
    image_s: float
    image_run_s: float
    problems: list[str]


async def first_image(server: AppServer, timeout: float) -> Startup:
    """Open the Explore page and follow it until its first image; times since the launch."""
    async with asyncio.timeout(timeout), StreamlitSession.connect(server.ws_url) as session:
        result = await session.open_page()
        page_s = result.finished - server.launched
        problems = list(result.problems)
        while result.first_image_at is None:
            result = await session.poll()
            problems += result.problems
    image_s = result.first_image_at - server.launched
    image_run_s = result.first_image_at - result.sent
    return Startup(server.health_s, page_s, image_s, image_run_s, problems)


def start_once(runs_dir: Path, log_path: Path, timeout: float, env: dict) -> Startup:
    """Launch a server on runs_dir (with env), time it to the first image, stop it."""
    server = AppServer(runs_dir, log_path, env=env)
    server.start()
    try:
        server.wait_healthy(timeout)
        startup = asyncio.run(first_image(server, timeout))
    finally:
        server.stop()
    startup.problems += server.log_problems()
    return startup


def scenario_row(name: str, startups: list[Startup]) -> list:
    medians = [
        statistics.median(getattr(s, k) for s in startups)
        for k in ("health_s", "page_s", "image_s", "image_run_s")
    ]
    each = ", ".join(f"{s.image_s:.1f}" for s in startups)
    return [name, len(startups), *medians, each]


def run_scenarios(args, tmp: Path) -> list[list]:
    """The fresh starts (each on a new empty folder), then the starts on the last one's models."""
    fresh, runs, env = [], tmp / "runs-0", {}
    for i in range(args.fresh_runs):
        runs = tmp / f"runs-{i}"
        env = {"LATENT_EXPLORER_CACHE": str(tmp / f"cache-{i}")}
        if args.dataset:
            env["LATENT_EXPLORER_DATASET"] = args.dataset
        started = start_once(runs, tmp / f"fresh-{i}.log", args.timeout, env)
        fresh.append(report(f"fresh #{i + 1}", started))
    warm = [
        report(f"on disk #{i + 1}", start_once(runs, tmp / f"warm-{i}.log", args.timeout, env))
        for i in range(args.warm_runs)
    ]
    return [
        scenario_row("fresh: new machine (empty runs folder and data cache)", fresh),
        scenario_row("later: models and data on disk", warm),
    ]


def report(label: str, startup: Startup) -> Startup:
    """Print one start as it ends (with whatever the app or its log reported), return it."""
    print(
        f"{label}: health {startup.health_s:.2f} s, first run {startup.page_s:.2f} s, "
        f"first image {startup.image_s:.2f} s (its run {startup.image_run_s:.2f} s)"
    )
    for problem in startup.problems[:10]:
        print("  problem: " + problem[:300])
    return startup


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", help="default: the app's opening dataset (faces)")
    parser.add_argument("--fresh-runs", type=int, default=1, help="fresh starts (1 to 3)")
    parser.add_argument("--warm-runs", type=int, default=3, help="starts with models on disk")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per start")
    args = parser.parse_args(argv)
    if not 1 <= args.fresh_runs <= 3 or args.warm_runs < 1:
        parser.error("--fresh-runs must be 1 to 3 and --warm-runs at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="app_startup_") as tmp:
        rows = run_scenarios(args, Path(tmp))
    print_table(
        f"App startup: launch to first decoded image on {args.dataset or 'faces'} (medians, "
        "seconds). Targets: faces within 3 s with no training (issue 19); digits within 10 s "
        "fresh, 2 s on later starts (issue 12)",
        [
            "scenario",
            "starts",
            "to health",
            "to first run",
            "to first image",
            "image's run",
            "each (to image)",
        ],
        rows,
    )
    print("load average (1, 5, 15 min) at the end:", *(f"{x:.1f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
