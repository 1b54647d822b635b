"""The one dataset value every image source produces, plus the on-disk cache they share."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from training.atomic import atomic_write

TEST_FRACTION = 0.1
SPLIT_SEED = 0
DECODED_CACHE_VERSION = 2  # bump when image decoding changes, so old cache files are not reused

# A slow load's progress: called with (images done, images in all) as it goes.
LoadProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class DataOptions:
    """How to load a source. Each source reads the fields that apply to it.

    limit:          keep at most this many images (None: all)
    image_size:     side of the square images to produce (None: the source's default)
    grey:           for `folder`: one grey channel instead of RGB
    attributes_csv: for `folder`: CSV of attributes (None: `attributes.csv` in the folder if any)
    seed:           for `faces`: the generator's seed
    """

    limit: int | None = None
    image_size: int | None = None
    grey: bool = False
    attributes_csv: str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be >= 1, got {self.limit}")
        if self.image_size is not None and not 4 <= self.image_size <= 512:
            raise ValueError(f"image_size must be in [4, 512], got {self.image_size}")


class DatasetError(Exception):
    """Bad or missing data. The message names the file and the problem."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images with optional labels and binary attributes, and a fixed train/test split.

    pixels:      (N, C, H, W) uint8 in 0..255, a quarter of the float size (floats() scales)
    test_mask:   (N,) bool, True for the held-out test images
    labels:      (N,) int64 class indices into class_names, or None
    attributes:  (N, A) uint8 in {0, 1}, columns named by attribute_names, or None
    source:      where the data was found (a folder, a package, "generated", ...)
    """

    name: str
    pixels: np.ndarray
    test_mask: np.ndarray
    description: str
    labels: np.ndarray | None = None
    class_names: tuple[str, ...] = ()
    attributes: np.ndarray | None = None
    attribute_names: tuple[str, ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        x = self.pixels
        if x.ndim != 4 or x.dtype != np.uint8:
            raise ValueError(f"pixels must be (N, C, H, W) uint8, got {x.shape} {x.dtype}")
        n = len(x)
        if n == 0:
            raise ValueError(f"dataset {self.name!r} has no images")
        if self.test_mask.shape != (n,) or self.test_mask.dtype != bool:
            raise ValueError(f"test_mask must be ({n},) bool")
        if self.labels is not None and self.labels.shape != (n,):
            raise ValueError(f"labels must be ({n},), got {self.labels.shape}")
        if self.attributes is not None:
            if self.attributes.shape != (n, len(self.attribute_names)):
                raise ValueError(
                    f"attributes must be ({n}, {len(self.attribute_names)}), "
                    f"got {self.attributes.shape}"
                )
            if not np.isin(self.attributes, (0, 1)).all():
                raise ValueError("attributes must be 0/1")

    @property
    def n_samples(self) -> int:
        return len(self.pixels)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.pixels.shape[1:])

    @property
    def train_indices(self) -> np.ndarray:
        """(N_train,) int64 rows of the train split: index with them instead of copying it."""
        return np.flatnonzero(~self.test_mask)

    @property
    def test_indices(self) -> np.ndarray:
        """(N_test,) int64 rows of the test split."""
        return np.flatnonzero(self.test_mask)

    def floats(self, index: int | slice | np.ndarray = slice(None)) -> np.ndarray:
        """pixels[index] as float32 in [0, 1]: (C, H, W) for one row, (M, C, H, W) for several.

        A float copy is 4x the pixels' size: take only the rows needed now (a batch, a few
        thousand points), never all of a big dataset.
        """
        return to_float_images(self.pixels[index])

    def subset(self, mask: np.ndarray) -> Dataset:
        """The images where mask is True, with their labels and attributes (a copy: for small
        data; index pixels with train_indices / test_indices to avoid one)."""
        return replace(
            self,
            pixels=self.pixels[mask],
            test_mask=self.test_mask[mask],
            labels=None if self.labels is None else self.labels[mask],
            attributes=None if self.attributes is None else self.attributes[mask],
        )

    def split(self) -> tuple[Dataset, Dataset]:
        """(train, test), the same every time for the same data."""
        return self.subset(~self.test_mask), self.subset(self.test_mask)

    def fingerprint(self) -> str:
        """A short hash of the images, labels and split: checkpoints record which data they saw."""
        h = hashlib.sha256()
        h.update(str(self.pixels.shape).encode())
        # The bytes themselves (hashed in place, not copied): the same as when images were held
        # as floats and quantized to bytes here, so older checkpoints still match their data.
        h.update(np.ascontiguousarray(self.pixels).data)
        h.update(self.test_mask.tobytes())
        if self.labels is not None:
            h.update(self.labels.astype(np.int64).tobytes())
        return h.hexdigest()[:16]


def seeded_test_mask(n_samples: int, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED):
    """(n_samples,) bool with round(test_fraction * n) True entries at seeded random places."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(n_samples, dtype=bool)
    n_test = max(1, round(test_fraction * n_samples)) if n_samples > 1 else 0
    mask[rng.permutation(n_samples)[:n_test]] = True
    return mask


def to_float_images(images_uint8: np.ndarray) -> np.ndarray:
    """uint8 (..., C, H, W) in 0..255 -> float32 in [0, 1]."""
    x = images_uint8.astype(np.float32)
    x /= np.float32(255)  # in place: one float array, not two
    return x


def cache_dir() -> Path:
    """Where built and downloaded data lives: $LATENT_EXPLORER_CACHE or ~/.cache/latent-explorer."""
    root = os.environ.get("LATENT_EXPLORER_CACHE") or Path.home() / ".cache" / "latent-explorer"
    return Path(root)


def save_arrays_atomically(path: Path, **arrays: np.ndarray) -> None:
    """Write an .npz so that a crash mid-write never leaves a half-written cache file."""
    with atomic_write(path) as f:
        np.savez(f, **arrays)


def load_cached_arrays(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of a cache file, or None when it is missing or unreadable (then it is rebuilt)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError):
        path.unlink(missing_ok=True)
        return None


def file_stamp(path: Path) -> tuple[int, int]:
    """(size, mtime in ns): what a cache key records of a file, so that an edit rebuilds."""
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def generated_arrays(
    path: Path, shapes: dict[str, tuple], generate: Callable[[], tuple[np.ndarray, ...]]
) -> dict[str, np.ndarray]:
    """A generated dataset's arrays (faces, waves), named and shaped as shapes says (in
    generate()'s order): read from the cache file path where it holds them at those shapes, else
    generated and saved (a missing, unreadable or other-sized file is rebuilt)."""
    cached = load_cached_arrays(path)
    if cached is not None and all(
        k in cached and cached[k].shape == shape for k, shape in shapes.items()
    ):
        return {k: cached[k] for k in shapes}
    arrays = dict(zip(shapes, generate(), strict=True))
    save_arrays_atomically(path, **arrays)
    return arrays


def locate_generated(path: Path, first_use: str) -> str:
    """Where a generated dataset comes from: its default cache file, or first_use's words."""
    return f"generated (cached in {path})" if path.is_file() else first_use


def cached_arrays(
    key: tuple, build: Callable[[], dict[str, np.ndarray]], fields: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """build()'s arrays, read from the cache file for key if it holds fields, else built and saved.

    key[0] names the file (e.g. "celeba"); the rest says what the files looked like on disk and
    the options. Nothing is written unless build() succeeds, and never half a file.
    """
    digest = hashlib.sha256(repr((DECODED_CACHE_VERSION, *key)).encode()).hexdigest()[:20]
    path = cache_dir() / f"{key[0]}-{digest}.npz"
    arrays = load_cached_arrays(path)
    if arrays is not None and set(fields) <= arrays.keys():
        return arrays
    arrays = build()
    save_arrays_atomically(path, **arrays)
    return arrays
