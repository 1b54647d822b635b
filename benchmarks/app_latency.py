"""Click to pinned point in a real browser: the app on digits in headless Chromium (loopback).

The images follow the mouse in the browser (benchmarks/browser_decode.py times that); a click
then pins the point in Python. Clicks 50 data points and 50 empty spots on the two maps and times
each from the mouse click to Python's answer on screen: the URL names the new point and the panel
shows it (a data point's own image and reconstructions). Target on the 2-core machine: median
<= 150 ms. Also times a page load to the first decoded image.

Run: python -m benchmarks.app_latency [--clicks 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import print_table
from tests.browser import chromium, click_data_point, streamlit_server, wait_for_chart
from training.data import load_dataset
from training.presets import default_train_config
from training.recipe import train_side_by_side

# Python's answer: the URL's point, and the panel's captions and readout.
SHOWN = """() => JSON.stringify([location.search,
    ...[...document.querySelectorAll('.lx-live figcaption, .lx-readout')].map(e => e.innerText)])"""
NEW_VIEW_SHOWN = f"""previous => ({SHOWN})() !== previous && document.querySelector(
    '[data-testid="stApp"]').dataset.testScriptState === "notRunning" """
FIRST_IMAGE = "() => (window.latentExplorerStats?.frames.length ?? 0) > 0"


def timed_click(page, key: str, x: float, y: float) -> float:
    """Milliseconds from the click to Python's answer on screen (URL and panel)."""
    before = page.evaluate(SHOWN)
    start = time.perf_counter()
    click_data_point(page, key, x, y)
    page.wait_for_function(NEW_VIEW_SHOWN, arg=before, timeout=30_000)
    return 1000 * (time.perf_counter() - start)


def targets(page, key: str, n: int, rng: np.random.Generator) -> tuple[list, list]:
    """n data points and n empty spots (corners of the visible area, away from the data)."""
    data = page.evaluate(
        "k => { const gd = document.querySelector(`.st-key-${k} .js-plotly-plot`);"
        " const d = gd._fullData[0], l = gd._fullLayout;"
        " return {x: [...d.x], y: [...d.y], xr: l.xaxis.range, yr: l.yaxis.range}; }",
        key,
    )
    points = [(data["x"][i], data["y"][i]) for i in rng.choice(len(data["x"]), n, replace=False)]
    (x0, x1), (y0, y1) = data["xr"], data["yr"]
    fx, fy = rng.uniform(0.02, 0.12, n), rng.uniform(0.85, 0.98, n)  # the empty top-left corner
    empty = [(x0 + a * (x1 - x0), y0 + b * (y1 - y0)) for a, b in zip(fx, fy, strict=True)]
    return points, empty


def summary(name: str, values: list[float]) -> list:
    p95 = float(np.percentile(values, 95))
    return [name, len(values), statistics.median(values), p95, min(values), max(values)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=50)
    args = parser.parse_args()
    runs = Path(tempfile.mkdtemp(prefix="latency-runs-"))
    digits = load_dataset("digits")
    train_side_by_side(
        digits, ("ae", "vae"), default_train_config(digits.n_samples), runs / "default" / "digits"
    )
    os.environ["LATENT_EXPLORER_RUNS"] = str(runs)
    rng = np.random.default_rng(0)
    with streamlit_server("explorer/app.py") as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        start = time.perf_counter()
        page.goto(url)
        page.wait_for_function(FIRST_IMAGE, timeout=60_000)
        first_image = time.perf_counter() - start
        rows, times = [], {"data point": [], "empty space": []}
        for key in ("map_ae", "map_vae"):
            wait_for_chart(page, key)
            timed_click(page, key, *targets(page, key, 1, rng)[1][0])  # warm-up
            points, empty = targets(page, key, args.clicks // 2, rng)
            for point, spot in zip(points, empty, strict=True):
                times["data point"].append(timed_click(page, key, *point))
                times["empty space"].append(timed_click(page, key, *spot))
        rows = [summary(name, values) for name, values in times.items()]
        rows.append(summary("all clicks", times["data point"] + times["empty space"]))
    print(f"page load to first decoded image (models on disk): {first_image:.2f} s")
    print_table(
        "Click to pinned point on screen, headless Chromium, loopback (target: median <= 150 ms)",
        ["clicked", "clicks", "median ms", "p95 ms", "min ms", "max ms"],
        rows,
    )


if __name__ == "__main__":
    main()
