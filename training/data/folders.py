"""Any folder of PNG/JPEG images, with an optional CSV of binary attributes.

Decoded once into uint8 squares and kept as an .npz in the cache, keyed by every file's name,
size and mtime and by the options, so a reload takes a second and any edit rebuilds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.data.attribute_tables import read_attributes_csv
from training.data.dataset import (
    DataOptions,
    Dataset,
    DatasetError,
    LoadProgress,
    cached_arrays,
    file_stamp,
    seeded_test_mask,
)
from training.data.imagefiles import decode_images, image_files

DEFAULT_SIZE = 64


def locate_folder(data_dir: Path | None) -> str | None:
    """data_dir if it is a folder holding at least one PNG/JPEG image, else None."""
    if data_dir is None or not data_dir.is_dir():
        return None
    return str(data_dir) if image_files(data_dir) else None


def load_folder(
    data_dir: Path | None, options: DataOptions, progress: LoadProgress | None = None
) -> Dataset:
    """The PNG/JPEG images directly in data_dir, sorted by name, as (N, C, S, S) uint8 squares.

    C is 1 with options.grey, else 3; S = options.image_size or 64. Attributes come from
    options.attributes_csv, else attributes.csv in the folder if there is one. progress is
    called as files are decoded (not when the cache has them).
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
    files = [(p.name, *file_stamp(p)) for p in paths]
    csv_stamp = csv and (str(csv.resolve()), *file_stamp(csv))
    key = ("folder", str(data_dir.resolve()), files, csv_stamp, size, options.grey, options.limit)

    def build() -> dict[str, np.ndarray]:
        names, attributes = (), np.zeros((len(paths), 0), np.uint8)
        if csv is not None:
            names, attributes = read_attributes_csv(csv, data_dir, [p.name for p in paths])
        keep = slice(options.limit)
        images = decode_images(paths[keep], size, grey=options.grey, progress=progress)
        return {"images": images, "attributes": attributes[keep], "names": np.array(names, str)}

    arrays = cached_arrays(key, build, fields=("images", "attributes", "names"))
    n, has_attributes = len(arrays["images"]), len(arrays["names"]) > 0
    colour = "grey" if options.grey else "RGB"
    return Dataset(
        name="folder",
        pixels=arrays["images"],
        test_mask=seeded_test_mask(n),
        attributes=arrays["attributes"] if has_attributes else None,
        attribute_names=tuple(str(a) for a in arrays["names"]),
        description=f"{n:,} images from {data_dir.name}/, {size}x{size} {colour}"
        + (f", {len(arrays['names'])} attributes." if has_attributes else "."),
        source=str(data_dir),
    )
