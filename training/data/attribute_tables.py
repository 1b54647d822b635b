"""Binary attribute tables: CelebA's list_attr_celeba.txt and a folder's attributes CSV.

Both give (N, A) uint8 in {0, 1}; any value that is not a clear yes/no is an error naming the
line, the column and the value, because a silently wrong label makes a wrong concept vector.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from training.data.dataset import DatasetError

FILE_COLUMNS = ("file", "filename", "image", "image_id")
# Accepted spellings: 0/1, CelebA's -1/1, and true/false (any case).
BINARY = {"0": 0, "1": 1, "-1": 0, "false": 0, "true": 1}


def read_celeba_table(path: Path) -> tuple[list[str], tuple[str, ...], np.ndarray]:
    """(file names, 40 attribute names, (N, 40) uint8) from CelebA's list_attr_celeba.txt.

    Layout: line 1 the image count, line 2 the attribute names, then `<file> <values in {-1, 1}>`.
    """
    try:
        lines = [line for line in path.read_text(encoding="ascii").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: unreadable ({e})") from e
    if len(lines) < 2 or not lines[0].strip().isdigit():
        raise DatasetError(f"{path}: line 1 must be the image count, then a line of names")
    attribute_names = tuple(lines[1].split())
    rows = [line.split() for line in lines[2:]]
    if int(lines[0]) != len(rows):
        raise DatasetError(
            f"{path}: line 1 says {int(lines[0]):,} images, the table has {len(rows):,}"
        )
    for i, row in enumerate(rows):
        if len(row) != 1 + len(attribute_names):
            raise DatasetError(
                f"{path}: line {i + 3} has {len(row) - 1} values, expected {len(attribute_names)}"
            )
    names = [row[0] for row in rows]
    _check_names(path, names)
    values = np.array([row[1:] for row in rows], dtype=str).reshape(len(rows), -1)
    bad = np.argwhere((values != "1") & (values != "-1"))
    if len(bad):
        r, c = bad[0]
        raise DatasetError(
            f"{path}: line {r + 3}, column {attribute_names[c]}: {str(values[r, c])!r} "
            "is not -1 or 1"
        )
    return names, attribute_names, (values == "1").astype(np.uint8)


def read_attributes_csv(
    path: Path, folder: Path, image_names: list[str]
) -> tuple[tuple[str, ...], np.ndarray]:
    """(attribute names, (N, A) uint8 in image_names' order) from a CSV with one row per image
    of folder.

    The header names the file column (file, filename, image or image_id; else the first column)
    and the attributes; values are 0/1, -1/1 or true/false.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = [row for row in csv.reader(f) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DatasetError(f"{path}: unreadable CSV ({e})") from e
    if not rows:
        raise DatasetError(f"{path}: empty (expected a header row: file, attribute, ...)")
    header = [cell.strip() for cell in rows[0]]
    lower = [h.lower() for h in header]
    file_col = next((i for i, h in enumerate(lower) if h in FILE_COLUMNS), 0)
    columns = [i for i in range(len(header)) if i != file_col]
    if not columns or any(not header[i] for i in columns) or len(set(header)) != len(header):
        raise DatasetError(f"{path}: the header needs a file column and uniquely named attributes")
    table: dict[str, list[int]] = {}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DatasetError(
                f"{path}: row {line} has {len(row)} columns, the header {len(header)}"
            )
        name = row[file_col].strip()
        if name in table:
            raise DatasetError(f"{path}: row {line}: {name} is listed twice")
        table[name] = [_binary(path, line, header[i], row[i]) for i in columns]
    _check_coverage(path, folder, table, image_names)
    values = np.array([table[n] for n in image_names], dtype=np.uint8)
    return tuple(header[i] for i in columns), values.reshape(len(image_names), len(columns))


def _binary(path: Path, line: int, column: str, value: str) -> int:
    try:
        return BINARY[value.strip().lower()]
    except KeyError:
        raise DatasetError(
            f"{path}: row {line}, column {column}: {value!r} is not binary "
            "(use 0/1, -1/1 or true/false)"
        ) from None


def _check_names(path: Path, names: list[str]) -> None:
    """File names must be unique plain names: a table cannot point outside its image folder."""
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise DatasetError(f"{path}: {n} is listed twice")
        seen.add(n)
    bad = next((n for n in names if Path(n).name != n or n in (".", "..")), None)
    if bad is not None:
        raise DatasetError(f"{path}: {bad!r} is not a plain file name")


def _check_coverage(
    path: Path, folder: Path, table: dict[str, list[int]], image_names: list[str]
) -> None:
    """Every image has a row and every row names an image (else it is likely the wrong CSV)."""
    images = set(image_names)
    missing = [n for n in image_names if n not in table]
    extra = [n for n in table if n not in images]
    if missing:
        raise DatasetError(f"{path}: no row for {len(missing):,} images: {some_names(missing)}")
    if extra:
        raise DatasetError(
            f"{path}: rows for {len(extra):,} files not in {folder}: {some_names(extra)}"
        )


def some_names(names: list[str], k: int = 3) -> str:
    """The first k names, and how many more."""
    return ", ".join(names[:k]) + (f" and {len(names) - k:,} more" if len(names) > k else "")
