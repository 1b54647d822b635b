"""How long each teaching instrument (and each Lesson step's view) takes to draw, once its models
exist: the Instruments page run headless (streamlit.testing.v1.AppTest) with ?instrument=KEY.

For each instrument, REPEATS times: a fresh app (Streamlit's caches emptied) opens the Explore
page, which loads the model pair; then the Instruments page opens on the instrument (first
draw: everything it computes from the pair, once per pair), then it is run again (a rerun: what
a click or slider costs). Medians. Target: each view within 1 s of its models existing.

The default models (and the beta ladder, with its default recipe) are trained first into a
temporary runs folder, as the app trains them on first use; that time is printed too.

Run: python -m benchmarks.instruments [--dataset digits] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from benchmarks.common import ROOT, print_table, shared_data_dir
from explorer.ui.instruments import instruments
from training.data import load_dataset
from training.ladder import DEFAULT_BETAS, train_ladder
from training.recipe import recipe, train_side_by_side

APP = str(ROOT / "explorer" / "app.py")
TARGET_S = 1.0


def train_defaults(name: str, runs: Path) -> float:
    """The default pair and beta ladder of dataset `name` in runs/default/<name>; seconds."""
    start = time.perf_counter()
    dataset = load_dataset(name, shared_data_dir())
    chosen = recipe(dataset)
    folder = runs / "default" / name
    train_side_by_side(dataset, ("ae", "vae"), chosen.train, folder, chosen.model)
    train_ladder(dataset, DEFAULT_BETAS, chosen.train, folder / "ladder", chosen.model)
    return time.perf_counter() - start


def timed_run(at: AppTest) -> float:
    start = time.perf_counter()
    at.run(timeout=600)
    if at.exception:
        raise SystemExit(f"the page raised: {at.exception[0].message}")
    return time.perf_counter() - start


def time_instrument(key: str, dataset: str) -> tuple[float, float, float]:
    """(seconds to open the pair, first draw, rerun) for one fresh app."""
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=600)
    at.query_params["dataset"] = dataset
    load = timed_run(at)
    at.query_params["instrument"] = key
    at.switch_page("views/instruments.py")
    return load, timed_run(at), timed_run(at)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as runs:
        os.environ["LATENT_EXPLORER_RUNS"] = runs
        os.environ.setdefault("LATENT_EXPLORER_DATA", str(shared_data_dir()))
        trained = train_defaults(args.dataset, Path(runs))
        print(f"default pair and beta ladder of {args.dataset} trained in {trained:.1f} s")
        rows = []
        for key, instrument in instruments().items():
            runs_ = [time_instrument(key, args.dataset) for _ in range(args.repeats)]
            load, first, again = (statistics.median(r[i] for r in runs_) for i in range(3))
            met = "yes" if first <= TARGET_S else "NO"
            rows.append([instrument.title, load, first, again, met])
    print_table(
        f"Instruments on {args.dataset}, medians of {args.repeats} fresh apps (AppTest, one "
        f"process; target: first draw <= {TARGET_S:g} s)",
        ["instrument", "open the pair s", "first draw s", "rerun s", "met"],
        rows,
    )


if __name__ == "__main__":
    main()
