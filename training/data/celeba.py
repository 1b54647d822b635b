"""CelebA in its published layout: img_align_celeba/*.jpg and list_attr_celeba.txt.

Decoded once into uint8 face squares and kept as an .npz in the cache, keyed by what the files
look like on disk (folders, counts, mtimes) and the options, so a reload takes a second.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from training.data.attribute_tables import read_celeba_table, some_names
from training.data.dataset import (
    DataOptions,
    Dataset,
    DatasetError,
    LoadProgress,
    cached_arrays,
    file_stamp,
    seeded_test_mask,
)
from training.data.imagefiles import decode_images

DEFAULT_SIZE = 64
CELEBA_TABLE = "list_attr_celeba.txt"
CELEBA_IMAGES = "img_align_celeba"
CELEBA_URL = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"
# Subfolders of a data folder that may hold the layout (../shared/data/celeba_subset/, ...).
DATA_DIR_SUBFOLDERS = ("celeba", "celeba_subset")
# Aligned CelebA is 178x218 with the face centred; the usual face crop is the centred 140x140
# square before resizing to 64x64 (Tolstikhin et al. 2018, Wasserstein
# Auto-Encoders).
# It is scaled with the width, so a half-size copy (89x109) gets the same 70x70 face region.
CELEBA_CROP_FRACTION = 140 / 178


def celeba_crop(w: int, h: int) -> tuple[float, float, float, float]:
    """The centred square face region of an aligned CelebA image of w x h pixels."""
    side = min(w * CELEBA_CROP_FRACTION, h)
    return ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)


def search_path(data_dir: Path | None) -> list[Path]:
    """The folders CelebA is looked for in, in order: data_dir, then data_dir/celeba and
    data_dir/celeba_subset. Nowhere else: CelebA is never downloaded."""
    if data_dir is None:
        return []
    return [data_dir, *(data_dir / sub for sub in DATA_DIR_SUBFOLDERS)]


def locate_celeba(data_dir: Path | None) -> str | None:
    """The first folder in search_path holding list_attr_celeba.txt and an img_align_celeba*
    folder, or None."""
    found = (f for f in search_path(data_dir) if (f / CELEBA_TABLE).is_file() and _image_folders(f))
    return next((str(f) for f in found), None)


def load_celeba(
    data_dir: Path | None, options: DataOptions, progress: LoadProgress | None = None
) -> Dataset:
    """CelebA faces from the folder locate_celeba reports, (N, 3, S, S) uint8 with
    S = options.image_size or 64, and their 40 attributes; progress as files are decoded."""
    found = locate_celeba(data_dir)
    if found is None:
        raise _not_found(data_dir)
    root = Path(found)
    size = options.image_size or DEFAULT_SIZE
    table = root / CELEBA_TABLE
    folders = [(f.name, len(os.listdir(f)), f.stat().st_mtime_ns) for f in _image_folders(root)]
    key = ("celeba", str(root.resolve()), folders, file_stamp(table), size, options.limit)

    def build() -> dict[str, np.ndarray]:
        names, attribute_names, attributes = read_celeba_table(table)
        folder = _image_folder(root, names)
        if options.limit:
            names, attributes = names[: options.limit], attributes[: options.limit]
        images = decode_images(
            [folder / n for n in names], size, crop=celeba_crop, progress=progress
        )
        return {"images": images, "attributes": attributes, "names": np.array(attribute_names)}

    arrays = cached_arrays(key, build, fields=("images", "attributes", "names"))
    n = len(arrays["images"])
    return Dataset(
        name="celeba",
        pixels=arrays["images"],
        test_mask=seeded_test_mask(n),
        attributes=arrays["attributes"],
        attribute_names=tuple(str(a) for a in arrays["names"]),
        description=f"CelebA aligned faces: {n:,} images, face crop at {size}x{size} RGB, "
        f"{len(arrays['names'])} binary attributes.",
        source=found,
    )


def _not_found(data_dir: Path | None) -> DatasetError:
    """What is missing, in the searched folder that holds part of the layout (else data_dir)."""
    if data_dir is None:
        return DatasetError(
            "celeba is never downloaded (its licence must be accepted on its site, "
            f"{CELEBA_URL}): download img_align_celeba/ and {CELEBA_TABLE}, then pass "
            "--data-dir FOLDER holding both"
        )
    folders = search_path(data_dir)
    looked = ", ".join(str(f) for f in folders)
    partial = (f for f in folders if (f / CELEBA_TABLE).is_file() or _image_folders(f))
    root = next(partial, data_dir)
    if not (root / CELEBA_TABLE).is_file():
        missing, what = root / CELEBA_TABLE, f"CelebA needs {CELEBA_TABLE} and {CELEBA_IMAGES}/"
    else:
        missing, what = root / CELEBA_IMAGES, "the folder of CelebA's images"
    return DatasetError(f"{missing}: missing ({what}; looked in {looked})")


def _image_folders(root: Path) -> list[Path]:
    """img_align_celeba/ if present, else every img_align_celeba* folder, sorted."""
    if (root / CELEBA_IMAGES).is_dir():
        return [root / CELEBA_IMAGES]
    return sorted(p for p in root.glob(CELEBA_IMAGES + "*") if p.is_dir())


def _image_folder(root: Path, names: list[str]) -> Path:
    """The one image folder holding every file the table lists (a renamed copy is accepted)."""
    folders = _image_folders(root)
    missing = {}
    for f in folders:
        present = set(os.listdir(f))
        missing[f] = [n for n in names if n not in present]
    complete = [f for f in folders if not missing[f]]
    if len(complete) == 1:
        return complete[0]
    if len(complete) > 1:
        raise DatasetError(
            f"{root}: several folders hold the images {CELEBA_TABLE} lists "
            f"({', '.join(f.name for f in complete)}); rename the one to use to {CELEBA_IMAGES}/"
        )
    f = min(folders, key=lambda f: len(missing[f]))  # the folder nearest to complete
    raise DatasetError(
        f"{root / CELEBA_TABLE}: {len(missing[f]):,} of the {len(names):,} files it lists "
        f"are missing from {f}: {some_names(missing[f])}"
    )
