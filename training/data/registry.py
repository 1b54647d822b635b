"""Every dataset source by name: where it is found and how it is loaded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.data import faces, idx, imagefiles, images
from training.data.dataset import (
    DataOptions,
    Dataset,
    DatasetError,
    seeded_test_mask,
    to_float_images,
)

DEFAULT_DATASET = "digits"


@dataclass(frozen=True)
class Source:
    name: str
    summary: str
    locate: Callable[[Path | None], str | None]  # where the data is, or None if not found
    load: Callable[[Path | None, DataOptions], Dataset]


def locate_digits(data_dir: Path | None) -> str:
    return "bundled with scikit-learn"


def load_digits(data_dir: Path | None, options: DataOptions) -> Dataset:
    """scikit-learn's 1,797 handwritten digits, 8x8 grey, 17 levels scaled to [0, 1]."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    x = (bunch.images / 16.0).astype(np.float32)[:, None]  # (N, 1, 8, 8)
    y = bunch.target.astype(np.int64)
    if options.limit:
        x, y = x[: options.limit], y[: options.limit]
    return Dataset(
        name="digits",
        images=x,
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
            images.locate_celeba,
            images.load_celeba,
        ),
        Source(
            "folder",
            "any folder of PNG/JPEG images, with an optional attributes CSV",
            images.locate_folder,
            images.load_folder,
        ),
    )
}


def load_dataset(
    name: str = DEFAULT_DATASET,
    data_dir: str | Path | None = None,
    options: DataOptions | None = None,
) -> Dataset:
    """Load a dataset by name; raises DatasetError with a clear message when it cannot."""
    if name not in SOURCES:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(SOURCES)}")
    path = Path(data_dir).expanduser() if data_dir is not None else None
    if path is not None and not path.exists():
        raise DatasetError(f"{path}: no such folder")
    return SOURCES[name].load(path, options or DataOptions())


def prepare_image(data: bytes, dataset: Dataset, name: str = "uploaded image") -> np.ndarray:
    """(C, H, W) float32 in [0, 1]: an image file made to look like the dataset's images, with
    the same crop (CelebA's face square, else the centred square), size and colour; a grey
    drawing on the other background (dark ink on paper for light-on-dark digits) is inverted."""
    c, h, w = dataset.image_shape
    crop = images.celeba_crop if dataset.name == "celeba" else imagefiles.centre_square
    x = to_float_images(imagefiles.decode_image_bytes(data, h, c == 1, crop, name)[None])[0]
    if c == 1 and _border(x) - _border(dataset.images[:500]) > 0.5:
        x = 1.0 - x
    return x


def _border(x: np.ndarray) -> float:
    """The mean brightness of the outermost pixels: the background."""
    edges = (x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1])
    return float(np.mean([e.mean() for e in edges]))


def available_datasets(data_dir: str | Path | None = None) -> list[tuple[str, str, str | None]]:
    """(name, summary, where found or None) for every source."""
    path = Path(data_dir).expanduser() if data_dir is not None else None
    # A folder that does not hold a source's files does not hide where else it was found.
    return [(s.name, s.summary, s.locate(path) or s.locate(None)) for s in SOURCES.values()]
