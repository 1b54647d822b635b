"""Any folder of PNG/JPEG images, with an optional CSV of binary attributes.

Every image is turned upright, centre-cropped to a square and resized to one common size, so a
folder of photos of any sizes loads. A file that cannot be read is skipped, counted in the
dataset's description and named in the log. Decoded once into uint8 squares and kept as an .npz
in the cache, keyed by every file's name, size and mtime and by the options, so a reload takes a
second and any edit rebuilds.
"""

from __future__ import annotations

import logging
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

# The common size: the faces' and CelebA's, which the default conv models are built for; large
# enough to show a face, small enough that a pair trains on a CPU in minutes.
DEFAULT_SIZE = 64
SUBFOLDER = "folder"  # in a data folder beside mnist/, celeba/, ...: the app's own images

log = logging.getLogger(__name__)
_logged: set[tuple[str, ...]] = set()  # skipped lists already logged by this process


def locate_folder(data_dir: Path | None) -> str | None:
    """data_dir if it holds at least one PNG/JPEG image, else data_dir/folder if that does,
    else None."""
    if data_dir is None:
        return None
    found = (f for f in (data_dir, data_dir / SUBFOLDER) if f.is_dir() and image_files(f))
    return next((str(f) for f in found), None)


def load_folder(
    data_dir: Path | None, options: DataOptions, progress: LoadProgress | None = None
) -> Dataset:
    """The PNG/JPEG images directly in the folder locate_folder reports, sorted by name, as
    (N, C, S, S) uint8 squares; unreadable files are skipped (counted in the description,
    listed in the log).

    C is 1 with options.grey, else 3; S = options.image_size or 64. Attributes come from
    options.attributes_csv, else attributes.csv in the folder if there is one. progress is
    called as files are decoded (not when the cache has them).
    """
    if data_dir is None:
        raise DatasetError("folder: pass --data-dir FOLDER holding PNG/JPEG images")
    if not data_dir.is_dir():
        raise DatasetError(f"{data_dir}: no such folder")
    found = locate_folder(data_dir)
    if found is None:
        raise DatasetError(
            f"{data_dir}: no images in this folder or in its {SUBFOLDER}/ (.png, .jpg or .jpeg)"
        )
    folder = Path(found)
    paths = image_files(folder)
    csv = Path(options.attributes_csv) if options.attributes_csv else folder / "attributes.csv"
    if options.attributes_csv and not csv.is_file():
        raise DatasetError(f"{csv}: missing (the attributes CSV)")
    csv = csv if csv.is_file() else None
    size = options.image_size or DEFAULT_SIZE
    kept = paths[: options.limit]
    # Every file's size and mtime: a user's folder is edited, and any change must rebuild.
    files = [(p.name, *file_stamp(p)) for p in paths]
    csv_stamp = csv and (str(csv.resolve()), *file_stamp(csv))
    key = ("folder", str(folder.resolve()), files, csv_stamp, size, options.grey, options.limit)

    def build() -> dict[str, np.ndarray]:
        names, attributes = (), np.zeros((len(paths), 0), np.uint8)
        if csv is not None:
            names, attributes = read_attributes_csv(csv, folder, [p.name for p in paths])
        skipped = []
        images = decode_images(kept, size, options.grey, progress=progress, skipped=skipped)
        if not len(images):
            raise DatasetError(
                f"{folder}: no image could be read ({len(kept):,} tried; the "
                f"first: {skipped[0][1]})"
            )
        unread = {path for path, _ in skipped}
        read = [p not in unread for p in kept]
        return {
            "images": images,
            "attributes": attributes[: options.limit][read],
            "names": np.array(names, str),
            "skipped": np.array([str(e) for _, e in skipped], str),
        }

    arrays = cached_arrays(key, build, fields=("images", "attributes", "names", "skipped"))
    n, has_attributes = len(arrays["images"]), len(arrays["names"]) > 0
    colour = "grey" if options.grey else "RGB"
    return Dataset(
        name="folder",
        pixels=arrays["images"],
        test_mask=seeded_test_mask(n),
        attributes=arrays["attributes"] if has_attributes else None,
        attribute_names=tuple(str(a) for a in arrays["names"]),
        description=f"{n:,} images from {folder.name}/, {size}x{size} {colour}"
        + (f", {len(arrays['names'])} attributes." if has_attributes else ".")
        + _skipped_note(folder, arrays["skipped"], len(kept)),
        source=str(folder),
    )


def _skipped_note(folder: Path, skipped: np.ndarray, n_files: int) -> str:
    """A sentence for the description on files that could not be read, after logging each
    once per process (a server that read the cache logs them too; the app's several loads of
    one folder do not repeat the list)."""
    if not len(skipped):
        return ""
    seen = (str(folder), *map(str, skipped))
    if seen not in _logged:
        _logged.add(seen)
        log.warning(
            "%s: %d of %d image files could not be read and were skipped:\n%s",
            folder,
            len(skipped),
            n_files,
            "\n".join(skipped),
        )
    return (
        f" {len(skipped):,} of {n_files:,} files could not be read: skipped; the list is in "
        "the server log."
    )
