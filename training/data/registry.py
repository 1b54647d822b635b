"""Every dataset source by name: where it is found and how it is loaded."""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.data import celeba, faces, folders, idx, imagefiles, waves
from training.data.dataset import (
    DataOptions,
    Dataset,
    DatasetError,
    LoadProgress,
    seeded_test_mask,
    to_float_images,
)

DEFAULT_DATASET = "digits"


@dataclass(frozen=True)
class Source:
    """A dataset by name. locate searches the data folder (and the subfolders named for the
    source) first, then the source's other places (Debian's package, the download cache), and
    load reads exactly what locate reports, so listing, loading and training agree."""

    name: str
    summary: str
    locate: Callable[[Path | None], str | None]  # where the data is, or None if not found
    load: Callable[[Path | None, DataOptions, LoadProgress | None], Dataset]


def locate_digits(data_dir: Path | None) -> str:
    return "bundled with scikit-learn"


def digits_table() -> tuple[np.ndarray, np.ndarray]:
    """(N, 8, 8) float64 levels 0..16 and (N,) labels: what sklearn.datasets.load_digits()
    returns as images and target, read from the CSV it bundles without importing scikit-learn
    (its datasets module takes over a second to import: every restart of the app paid it before
    its first image). Falls back to load_digits() should the file move."""
    package = importlib.util.find_spec("sklearn")  # finds the package without importing it
    folder = package and package.submodule_search_locations
    path = Path(folder[0], "datasets", "data", "digits.csv.gz") if folder else None
    if path is None or not path.is_file():
        from sklearn.datasets import load_digits as sklearn_digits

        bunch = sklearn_digits()
        return bunch.images, bunch.target
    table = np.loadtxt(path, delimiter=",")  # (N, 65): 64 pixel levels, then the label
    return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(int)


def load_digits(
    data_dir: Path | None, options: DataOptions, progress: LoadProgress | None = None
) -> Dataset:
    """scikit-learn's 1,797 handwritten digits, 8x8 grey, 17 levels k = 0..16 as bytes."""
    images, labels = digits_table()
    # Level k/16 stored as the byte round(k * 255 / 16) (half to even, exact in float64): the
    # bytes the fingerprint hashed when the images were floats k/16, so checkpoints still match.
    x = np.round(images * (255 / 16)).astype(np.uint8)[:, None]  # (N, 1, 8, 8)
    y = labels.astype(np.int64)
    if options.limit:
        x, y = x[: options.limit], y[: options.limit]
    return Dataset(
        name="digits",
        pixels=x,
        test_mask=seeded_test_mask(len(x)),
        labels=y,
        class_names=tuple(str(d) for d in range(10)),
        description="1,797 handwritten digits, 8x8 grey (scikit-learn's bundled copy of UCI).",
        source=locate_digits(data_dir),
    )


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            "digits",
            "scikit-learn's 8x8 handwritten digits (the default)",
            locate_digits,
            load_digits,
        ),
        Source(
            "faces",
            "procedural faces with known attributes (Smiling, Eyeglasses, ...)",
            faces.locate_faces,
            faces.load_faces,
        ),
        Source(
            "waves",
            "generated signals of 128 steps with known attributes (Spike, Damped, ...)",
            waves.locate_waves,
            waves.load_waves,
        ),
        Source(
            "mnist",
            "MNIST handwritten digits, 28x28 grey (IDX files)",
            idx.locate_mnist,
            idx.load_mnist,
        ),
        Source(
            "fashion-mnist",
            "Fashion-MNIST clothing, 28x28 grey (IDX files)",
            idx.locate_fashion_mnist,
            idx.load_fashion_mnist,
        ),
        Source(
            "celeba",
            "CelebA aligned faces with 40 attributes",
            celeba.locate_celeba,
            celeba.load_celeba,
        ),
        Source(
            "folder",
            "any folder of PNG/JPEG images, with an optional attributes CSV",
            folders.locate_folder,
            folders.load_folder,
        ),
    )
}


def load_dataset(
    name: str = DEFAULT_DATASET,
    data_dir: str | Path | None = None,
    options: DataOptions | None = None,
    progress: LoadProgress | None = None,
) -> Dataset:
    """Load a dataset by name from where locate_dataset finds it; raises DatasetError with a
    clear message when it cannot (with a data_dir and nothing found: the file that is missing).

    progress(done, total) is called while image files are decoded (a folder's or CelebA's first
    load; later loads read the cache and do not call it). Files and folders inside data_dir are
    named relative to it in errors (see relative_paths).
    """
    source, path = _source(name), _data_path(data_dir)
    try:
        return source.load(path, options or DataOptions(), progress)
    except DatasetError as e:
        raise DatasetError(relative_paths(str(e), path)) from e


def relative_paths(text: str, data_dir: Path | None) -> str:
    """text with every path inside data_dir written relative to it, and data_dir itself as
    "the data folder". Errors reach students in the app: they need the file's name, not the
    server's folders. One place for every source's messages, since each builds them from
    data_dir / ... (as given, so its string is a prefix of theirs)."""
    if data_dir is None:
        return text
    sep = re.escape(os.sep)
    for root in sorted({str(data_dir), str(data_dir.absolute())}, key=len, reverse=True):
        if root in (".", os.sep):  # paths in "." are relative already; "/" holds everything
            continue
        # Only whole path components: /data must not match inside /data2 or my/data.
        pattern = rf"(?<![\w.~{sep}-]){re.escape(root)}({sep}|(?![\w.-]))"
        text = re.sub(pattern, lambda m: "" if m.group(1) else "the data folder", text)
    return text


def locate_dataset(name: str, data_dir: str | Path | None = None) -> str | None:
    """Where load_dataset(name, data_dir) would read name from (a folder for file sources, else
    a few words such as "bundled with scikit-learn"), or None when it is not there.

    Nothing is downloaded or decoded: this only looks. The data folder and its subfolders named
    for the source (mnist/, fashion_mnist/, celeba/, celeba_subset/, ...) come first, then the
    source's other places (Debian's Fashion-MNIST package, the download cache).
    """
    return _source(name).locate(_data_path(data_dir))


def _source(name: str) -> Source:
    if name not in SOURCES:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(SOURCES)}")
    return SOURCES[name]


def _data_path(data_dir: str | Path | None) -> Path | None:
    """data_dir as a Path; DatasetError if it is given but does not exist."""
    if data_dir is None:
        return None
    path = Path(data_dir).expanduser()
    if not path.exists():
        raise DatasetError(f"{path}: no such folder")
    return path


def prepare_image(data: bytes, dataset: Dataset, name: str = "uploaded image") -> np.ndarray:
    """(C, H, W) float32 in [0, 1]: an image file made to look like the dataset's images, with
    the same crop (CelebA's face square, else the centred square), size and colour; a grey
    drawing on the other background (dark ink on paper for light-on-dark digits) is inverted."""
    c, h, w = dataset.image_shape
    crop = celeba.celeba_crop if dataset.name == "celeba" else imagefiles.centre_square
    x = to_float_images(imagefiles.decode_image_bytes(data, h, c == 1, crop, name)[None])[0]
    if c == 1 and _border(x) - _border(dataset.floats(slice(500))) > 0.5:
        x = 1.0 - x
    return x


def _border(x: np.ndarray) -> float:
    """The mean brightness of the outermost pixels: the background."""
    edges = (x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1])
    return float(np.mean([e.mean() for e in edges]))


def available_datasets(data_dir: str | Path | None = None) -> list[tuple[str, str, str | None]]:
    """(name, summary, where found or None) for every source: locate_dataset for each."""
    path = _data_path(data_dir)
    return [(s.name, s.summary, s.locate(path)) for s in SOURCES.values()]
