"""Memory that scales: peak RSS while training and evaluating on full-CelebA-sized data held as
uint8, and the time to decode a folder of images once and then read it from the cache.

Memory: in a fresh child process, N images of 64x64 RGB (200,000 by default, full CelebA's
size) are made by repeating the CelebA subset (../shared/data/celeba_subset; random bytes
where it is absent). The default AE and VAE (training.recipe) are trained EPOCHS epochs on
the train split exactly as the CLI and the app's jobs train them (train_side_by_side: both at
once, one core each, from the uint8 pixels and the split's indices with no copy; then each is
evaluated and saved), then the app opens the pair (build_pair). ru_maxrss is read after each
phase. The target is a peak of at most 1.5x the pixels' size; float32 images alone would be 4x.

Folder: a temporary folder of small PNGs is loaded twice through load_dataset("folder"), the
first time decoding every file (with a progress callback), the second from the cache.

Run: python -m benchmarks.memory [--images 200000] [--epochs 1] [--folder-images 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

from benchmarks.common import ROOT, print_table, shared_data_dir

SIDE = 64
GB = 1e9


def peak_rss_bytes() -> int:
    """This process's peak resident set so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def repeated_celeba(n_images: int):
    """A Dataset of n_images 64x64 RGB images: the CelebA subset repeated (random bytes where it
    is absent), with its attributes, written into one uint8 array (no float copy on the way)."""
    from training.data import DatasetError, load_dataset
    from training.data.dataset import Dataset, seeded_test_mask

    try:
        base = load_dataset("celeba", shared_data_dir() / "celeba_subset")
        source, names = "CelebA subset repeated", base.attribute_names
        base_pixels, base_attributes = base.pixels, base.attributes
    except DatasetError:
        rng = np.random.default_rng(0)
        source, names = "random bytes", ("Smiling",)
        base_pixels = rng.integers(0, 256, (10_000, 3, SIDE, SIDE), dtype=np.uint8)
        base_attributes = rng.integers(0, 2, (10_000, 1), dtype=np.uint8)
    pixels = np.empty((n_images, *base_pixels.shape[1:]), np.uint8)
    attributes = np.empty((n_images, len(names)), np.uint8)
    for start in range(0, n_images, len(base_pixels)):
        n = min(len(base_pixels), n_images - start)
        pixels[start : start + n] = base_pixels[:n]
        attributes[start : start + n] = base_attributes[:n]
    return Dataset(
        name="celeba-repeated",
        pixels=pixels,
        test_mask=seeded_test_mask(n_images),
        description=f"{n_images:,} images, {source}",
        attributes=attributes,
        attribute_names=names,
        source=source,
    )


def measure_memory(n_images: int, epochs: int) -> dict:
    """Run in a child process: the phases' seconds and peak RSS, and the pixels' size."""
    import torch

    from explorer.core.model_pair import build_pair
    from training.recipe import recipe, train_side_by_side

    phases = [("imports (torch, sklearn, ...)", 0.0, peak_rss_bytes())]

    def phase(name: str, fn):
        start = time.perf_counter()
        value = fn()
        phases.append((name, time.perf_counter() - start, peak_rss_bytes()))
        return value

    dataset = phase("build the uint8 dataset", partial(repeated_celeba, n_images))
    chosen = recipe(dataset, epochs=epochs)
    with tempfile.TemporaryDirectory() as out:
        trained = phase(
            f"train the default pair {epochs} epoch(s) ({chosen.train.batch_size} per batch), "
            "evaluate, save",
            partial(train_side_by_side, dataset, ("ae", "vae"), chosen.train, out, chosen.model),
        )
    models = [entry.model for entry in trained]
    phase("build_pair (the app's maps)", partial(build_pair, dataset, *models, "bench"))
    return {
        "phases": phases,
        "pixel_bytes": dataset.pixels.nbytes,
        "n_images": n_images,
        "source": dataset.source,
        "threads": torch.get_num_threads(),
    }


def folder_timing(n_files: int, side: int = 32) -> dict:
    """Seconds to load a folder of n_files PNGs: decoded the first time, from the cache next."""
    from PIL import Image

    from training.data import DataOptions, load_dataset

    calls = []
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory() as cache:
        os.environ["LATENT_EXPLORER_CACHE"] = cache  # never the user's cache
        rng = np.random.default_rng(0)
        start = time.perf_counter()
        for i in range(n_files):
            x = rng.integers(0, 256, (side // 4, side // 4, 3), dtype=np.uint8)
            Image.fromarray(x).resize((side, side)).save(Path(folder) / f"{i:06d}.png")
        made = time.perf_counter() - start
        options = DataOptions(image_size=side)
        times = []
        for _ in range(2):
            start = time.perf_counter()
            data = load_dataset("folder", folder, options, lambda d, t: calls.append(d))
            times.append(time.perf_counter() - start)
        n_first = len(calls)
    return {
        "made": made,
        "first": times[0],
        "cached": times[1],
        "n": data.n_samples,
        "progress_calls": n_first,
        "side": side,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--folder-images", type=int, default=20_000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # the measured process: one JSON line on stdout
        print(json.dumps(measure_memory(args.images, args.epochs)))
        return
    command = [
        sys.executable,
        "-m",
        "benchmarks.memory",
        "--child",
        "--images",
        str(args.images),
        "--epochs",
        str(args.epochs),
    ]
    child = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if child.returncode != 0:
        sys.exit(f"the measured child process failed:\n{child.stderr}")
    result = json.loads(child.stdout.splitlines()[-1])
    pixels = result["pixel_bytes"]
    rows = [[name, seconds, rss / GB, rss / pixels] for name, seconds, rss in result["phases"]]
    print_table(
        f"Peak RSS, {result['n_images']:,} images of 3x{SIDE}x{SIDE} ({result['source']}), "
        f"{result['threads']} torch threads",
        ["phase", "seconds", "peak RSS so far (GB)", "x uint8 size"],
        rows,
    )
    peak = result["phases"][-1][2]
    print_table(
        "Peak against the data's size",
        ["what", "GB", "x uint8 size"],
        [
            ["uint8 pixels (held)", pixels / GB, 1.0],
            ["peak RSS measured", peak / GB, peak / pixels],
            ["target: 1.5x the uint8 size", 1.5 * pixels / GB, 1.5],
            ["float32 images alone (before; not run)", 4 * pixels / GB, 4.0],
            ["float32 + the split recipe.py copied (before)", 8 * pixels / GB, 8.0],
        ],
    )
    timing = folder_timing(args.folder_images)
    print_table(
        f"Loading a folder of {timing['n']:,} PNGs, {timing['side']}x{timing['side']} RGB",
        ["load", "seconds", "images/s"],
        [
            [
                f"first (decoded; progress called {timing['progress_calls']} times)",
                timing["first"],
                timing["n"] / timing["first"],
            ],
            ["again (from the cache)", timing["cached"], timing["n"] / timing["cached"]],
        ],
    )
    print(f"(writing the PNGs took {timing['made']:.1f} s)")


if __name__ == "__main__":
    main()
