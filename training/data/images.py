"""CelebA in its published layout, and any folder of PNG/JPEG images with an optional CSV.

Both decode once into uint8 square images and keep an .npz in the cache, keyed by what the files
look like on disk (paths, counts, sizes, mtimes) and the options, so a reload takes a second.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from training.data.attribute_tables import read_attributes_csv, read_celeba_table, some_names
from training.data.dataset import (
    DataOptions,
    Dataset,
    DatasetError,
    cache_dir,
    load_cached_arrays,
    save_arrays_atomically,
    seeded_test_mask,
    to_float_images,
)
from training.data.imagefiles import decode_images, image_files

DEFAULT_SIZE = 64
CACHE_VERSION = 1  # bump when decoding changes, so old cache files are not reused
CELEBA_TABLE = "list_attr_celeba.txt"
CELEBA_IMAGES = "img_align_celeba"
CELEBA_URL = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"
# Aligned CelebA is 178x218 with the face centred; the usual face crop is the centred 140x140
# square before resizing to 64x64 (Tolstikhin et al. 2018, Wasserstein
# Auto-Encoders).
# It is scaled with the width, so a half-size copy (89x109) gets the same 70x70 face region.
CELEBA_CROP_FRACTION = 140 / 178


def celeba_crop(w: int, h: int) -> tuple[float, float, float, float]:
    """The centred square face region of an aligned CelebA image of w x h pixels."""
    side = min(w * CELEBA_CROP_FRACTION, h)
    return ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)


def locate_celeba(data_dir: Path | None) -> str | None:
    """data_dir if it holds list_attr_celeba.txt and an img_align_celeba* folder, else None."""
    if data_dir is None or not (data_dir / CELEBA_TABLE).is_file():
        return None
    return str(data_dir) if _celeba_image_folders(data_dir) else None


def load_celeba(data_dir: Path | None, options: DataOptions) -> Dataset:
    """CelebA faces, (N, 3, S, S) with S = options.image_size or 64, and their 40 attributes."""
    if data_dir is None:
        raise DatasetError(
            "celeba is never downloaded (its licence must be accepted on its site, "
            f"{CELEBA_URL}): download img_align_celeba/ and {CELEBA_TABLE}, then pass "
            "--data-dir FOLDER holding both"
        )
    size = options.image_size or DEFAULT_SIZE
    table = data_dir / CELEBA_TABLE
    if not table.is_file():
        raise DatasetError(f"{table}: missing (CelebA needs {CELEBA_TABLE} and {CELEBA_IMAGES}/)")
    folders = [
        (f.name, len(os.listdir(f)), f.stat().st_mtime_ns) for f in _celeba_image_folders(data_dir)
    ]
    key = ("celeba", str(data_dir.resolve()), folders, _stat(table), size, options.limit)

    def build() -> dict[str, np.ndarray]:
        names, attribute_names, attributes = read_celeba_table(table)
        folder = _celeba_image_folder(data_dir, names)
        if options.limit:
            names, attributes = names[: options.limit], attributes[: options.limit]
        images = decode_images([folder / n for n in names], size, crop=celeba_crop)
        return {"images": images, "attributes": attributes, "names": np.array(attribute_names)}

    arrays = _cached(key, build)
    n = len(arrays["images"])
    return Dataset(
        name="celeba",
        images=to_float_images(arrays["images"]),
        test_mask=seeded_test_mask(n),
        attributes=arrays["attributes"],
        attribute_names=tuple(str(a) for a in arrays["names"]),
        description=f"CelebA aligned faces: {n:,} images, face crop at {size}x{size} RGB, "
        f"{len(arrays['names'])} binary attributes.",
        source=str(data_dir),
    )


def _celeba_image_folders(data_dir: Path) -> list[Path]:
    """img_align_celeba/ if present, else every img_align_celeba* folder, sorted."""
    if (data_dir / CELEBA_IMAGES).is_dir():
        return [data_dir / CELEBA_IMAGES]
    return sorted(p for p in data_dir.glob(CELEBA_IMAGES + "*") if p.is_dir())


def _celeba_image_folder(data_dir: Path, names: list[str]) -> Path:
    """The one image folder holding every file the table lists (a renamed copy is accepted)."""
    folders = _celeba_image_folders(data_dir)
    if not folders:
        raise DatasetError(f"{data_dir / CELEBA_IMAGES}: missing (the folder of CelebA's images)")
    missing = {}
    for f in folders:
        present = set(os.listdir(f))
        missing[f] = [n for n in names if n not in present]
    complete = [f for f in folders if not missing[f]]
    if len(complete) == 1:
        return complete[0]
    if len(complete) > 1:
        raise DatasetError(
            f"{data_dir}: several folders hold the images {CELEBA_TABLE} lists "
            f"({', '.join(f.name for f in complete)}); rename the one to use to {CELEBA_IMAGES}/"
        )
    f = min(folders, key=lambda f: len(missing[f]))  # the folder nearest to complete
    raise DatasetError(
        f"{data_dir / CELEBA_TABLE}: {len(missing[f]):,} of the {len(names):,} files it lists "
        f"are missing from {f}: {some_names(missing[f])}"
    )


def locate_folder(data_dir: Path | None) -> str | None:
    """data_dir if it is a folder holding at least one PNG/JPEG image, else None."""
    if data_dir is None or not data_dir.is_dir():
        return None
    return str(data_dir) if image_files(data_dir) else None


def load_folder(data_dir: Path | None, options: DataOptions) -> Dataset:
    """The PNG/JPEG images directly in data_dir, sorted by name, as (N, C, S, S) squares.

    C is 1 with options.grey, else 3; S = options.image_size or 64. Attributes come from
    options.attributes_csv, else attributes.csv in the folder if there is one.
    """
    if data_dir is None:
        raise DatasetError("folder: pass --data-dir FOLDER holding PNG/JPEG images")
    if not data_dir.is_dir():
        raise DatasetError(f"{data_dir}: no such folder")
    paths = image_files(data_dir)
    if not paths:
        raise DatasetError(f"{data_dir}: no images in this folder (.png, .jpg or .jpeg)")
    csv = Path(options.attributes_csv) if options.attributes_csv else data_dir / "attributes.csv"
    if options.attributes_csv and not csv.is_file():
        raise DatasetError(f"{csv}: missing (the attributes CSV)")
    csv = csv if csv.is_file() else None
    size = options.image_size or DEFAULT_SIZE
    # Every file's size and mtime: a user's folder is edited, and any change must rebuild.
    files = [(p.name, *_stat(p)) for p in paths]
    key = ("folder", str(data_dir.resolve()), files, csv and (str(csv.resolve()), *_stat(csv)),
           size, options.grey, options.limit)  # fmt: skip

    def build() -> dict[str, np.ndarray]:
        names, attributes = (), np.zeros((len(paths), 0), np.uint8)
        if csv is not None:
            names, attributes = read_attributes_csv(csv, data_dir, [p.name for p in paths])
        keep = slice(options.limit)
        images = decode_images(paths[keep], size, grey=options.grey)
        return {"images": images, "attributes": attributes[keep], "names": np.array(names, str)}

    arrays = _cached(key, build)
    n, has_attributes = len(arrays["images"]), len(arrays["names"]) > 0
    colour = "grey" if options.grey else "RGB"
    return Dataset(
        name="folder",
        images=to_float_images(arrays["images"]),
        test_mask=seeded_test_mask(n),
        attributes=arrays["attributes"] if has_attributes else None,
        attribute_names=tuple(str(a) for a in arrays["names"]),
        description=f"{n:,} images from {data_dir.name}/, {size}x{size} {colour}"
        + (f", {len(arrays['names'])} attributes." if has_attributes else "."),
        source=str(data_dir),
    )


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _cached(key: tuple, build) -> dict[str, np.ndarray]:
    """build()'s arrays, read from the cache file for key if there is one, else built and saved.

    Nothing is written unless build() succeeds, and save_arrays_atomically never leaves a
    half-written file.
    """
    digest = hashlib.sha256(repr((CACHE_VERSION, *key)).encode()).hexdigest()[:20]
    path = cache_dir() / f"{key[0]}-{digest}.npz"
    arrays = load_cached_arrays(path)
    if arrays is not None and {"images", "attributes", "names"} <= arrays.keys():
        return arrays
    arrays = build()
    save_arrays_atomically(path, **arrays)
    return arrays
