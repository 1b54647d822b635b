"""MNIST and Fashion-MNIST from their standard IDX files: a folder, Debian's package, or a download.

IDX format (http://yann.lecun.com/exdb/mnist/): a 4-byte magic 0x0000TTDD (TT = 0x08 for uint8,
DD = number of dimensions), DD big-endian uint32 sizes, then the values in C order.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from training.atomic import atomic_write
from training.data.dataset import DataOptions, Dataset, DatasetError, LoadProgress, cache_dir

# Where Debian's `dataset-fashion-mnist` package puts the files (tests monkeypatch this).
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

PARTS = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

MIRRORS = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}
# MD5 of each published .gz file (the same values torchvision checks).
MD5S = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}
DOWNLOAD_TIMEOUT_S = 30
MAX_DOWNLOAD_BYTES = 64 * 2**20  # the largest official file is 26 MB; stop a runaway response

# Subfolders of a data folder that may hold each kind's files (../shared/data/mnist/, ...).
DATA_DIR_SUBFOLDERS = {"mnist": ("mnist",), "fashion-mnist": ("fashion-mnist", "fashion_mnist")}

FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def read_idx(path: str | Path) -> np.ndarray:
    """The uint8 array in an IDX file (raw or .gz): (N,) for labels, (N, H, W) for images."""
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08 or data[3] not in (1, 3):
        raise DatasetError(
            f"{path}: not an IDX file of uint8 labels or images "
            f"(magic {data[:4].hex() or 'missing'}, expected 00000801 or 00000803)"
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"{path}: truncated header ({len(data)} bytes, expected {header})")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected, found = int(np.prod(shape)), len(data) - header
    if found != expected:
        problem = "truncated" if found < expected else f"{found - expected} extra bytes"
        raise DatasetError(
            f"{path}: {problem}: header says {shape} = {expected} bytes of data, found {found}"
        )
    # A view on the file's bytes: no per-image Python work, 60,000 images parse in milliseconds.
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when it ends in .gz."""
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if path.suffix == ".gz" else raw
    except FileNotFoundError:
        raise DatasetError(f"{path}: missing") from None
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
        raise DatasetError(f"{path}: corrupt or truncated ({e or type(e).__name__})") from e


def _find_part(folder: Path, part: str) -> Path | None:
    """The file for one part in folder: raw, .gz, or with Kaggle's '.idx' spelling."""
    for name in (part, part + ".gz", part.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return folder / name
    return None


def _complete(folder: Path) -> bool:
    return all(_find_part(folder, part) for part in PARTS)


def _data_dir_folders(kind: str, data_dir: Path | None) -> list[Path]:
    """data_dir itself, then its subfolders conventionally named for kind (none without one)."""
    if data_dir is None:
        return []
    return [data_dir, *(data_dir / sub for sub in DATA_DIR_SUBFOLDERS[kind])]


def search_path(kind: str, data_dir: Path | None) -> list[Path]:
    """Every folder kind is looked for in, in order: the data folder (and its subfolders named
    for kind), then Debian's package (fashion-mnist), then the download cache. Listing, loading
    and training all search this one list, so they agree on where a dataset is."""
    debian = [DEBIAN_FASHION_MNIST_DIR] if kind == "fashion-mnist" else []
    return [*_data_dir_folders(kind, data_dir), *debian, cache_dir() / kind]


def _locate(kind: str, data_dir: Path | None) -> str | None:
    """The first folder in search_path that holds all four files, or None."""
    return next((str(f) for f in search_path(kind, data_dir) if _complete(f)), None)


def locate_mnist(data_dir: Path | None) -> str | None:
    """The first folder in search_path holding MNIST's four IDX files, or None (nothing is
    downloaded)."""
    return _locate("mnist", data_dir)


def locate_fashion_mnist(data_dir: Path | None) -> str | None:
    """The first folder in search_path holding Fashion-MNIST's four IDX files, or None."""
    return _locate("fashion-mnist", data_dir)


def download_idx(
    kind: str,
    dest_dir: str | Path,
    mirrors: tuple[str, ...] | None = None,
    md5s: dict[str, str] | None = None,
) -> Path:
    """Download the four .gz files of kind ("mnist" or "fashion-mnist") into dest_dir.

    Each file is tried from each mirror in order and checked against its published MD5 before it
    is moved into place, so dest_dir never holds a partial or wrong file. Returns dest_dir.
    """
    mirrors = MIRRORS[kind] if mirrors is None else mirrors
    md5s = MD5S[kind] if md5s is None else md5s
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    for part in PARTS:
        name = part + ".gz"
        if (dest / name).is_file() and _md5(dest / name) == md5s[name]:
            continue  # kept from an earlier, interrupted download
        failures = []
        for mirror in mirrors:
            try:
                _fetch(mirror + name, dest / name, md5s[name])
                break
            # URLError, HTTPError and timeouts are OSErrors; a body cut short is an HTTPException.
            except (OSError, ValueError, http.client.HTTPException) as e:
                failures.append(f"{mirror + name}: {e}")
        else:
            raise DatasetError(f"download of {name} failed: " + "; ".join(failures))
    return dest


def _fetch(url: str, path: Path, md5: str) -> None:
    """Download url to path, which appears only once whole; raise ValueError on a bad MD5."""
    h, size = hashlib.md5(usedforsecurity=False), 0
    with atomic_write(path) as f, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as r:
        while chunk := r.read(1 << 20):
            size += len(chunk)
            if size > MAX_DOWNLOAD_BYTES:
                raise ValueError(f"response larger than {MAX_DOWNLOAD_BYTES} bytes")
            h.update(chunk)
            f.write(chunk)
        if h.hexdigest() != md5:
            raise ValueError(f"checksum mismatch: MD5 {h.hexdigest()}, expected {md5}")


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def _find_or_download(kind: str, data_dir: Path | None) -> Path:
    """The folder locate reports; when there is none, downloads into the cache only when no
    data_dir was given, and otherwise names the file missing from the data folder."""
    found = _locate(kind, data_dir)
    if found is not None:
        return Path(found)
    looked = ", ".join(str(f) for f in search_path(kind, data_dir))
    if data_dir is not None:
        # Name the missing file in the data folder that holds some of them (or data_dir itself).
        mine = _data_dir_folders(kind, data_dir)
        folder = next((f for f in mine if any(_find_part(f, p) for p in PARTS)), data_dir)
        missing = next(p for p in PARTS if _find_part(folder, p) is None)
        raise DatasetError(
            f"{folder / missing}(.gz): missing "
            f"({kind} needs {', '.join(PARTS)}; looked in {looked})"
        )
    try:
        return download_idx(kind, cache_dir() / kind)
    except DatasetError as e:
        fix = "pass --data-dir FOLDER holding the four IDX files"
        if kind == "fashion-mnist":
            fix += ", or `apt-get install dataset-fashion-mnist`"
        raise DatasetError(f"{kind} not found (looked in {looked}), and {e}. To fix: {fix}.") from e


def _load(kind: str, data_dir: Path | None, limit: int | None):
    """(images (N, 1, 28, 28) uint8, labels (N,) int64, test_mask (N,) bool, folder)."""
    folder = _find_or_download(kind, data_dir)
    paths = [_find_part(folder, p) for p in PARTS]
    x_train, y_train, x_test, y_test = (read_idx(p) for p in paths)
    for x, y, px, py in ((x_train, y_train, *paths[:2]), (x_test, y_test, *paths[2:])):
        if x.ndim != 3 or y.ndim != 1:
            raise DatasetError(f"{px if x.ndim != 3 else py}: images or labels in the wrong file")
        if len(x) != len(y):
            raise DatasetError(f"{px}: {len(x)} images but {py.name} has {len(y)} labels")
        if len(x) == 0:
            raise DatasetError(f"{px}: no images")
        if y.max() > 9:
            raise DatasetError(f"{py}: labels must be 0..9, found {y.max()}")
    if limit is not None and limit < len(x_train) + len(x_test):
        # Keep the standard split's proportions, with both parts non-empty when limit >= 2.
        n_test = min(max(round(limit * len(x_test) / (len(x_train) + len(x_test))), 1), limit - 1)
        x_train, y_train = x_train[: limit - n_test], y_train[: limit - n_test]
        x_test, y_test = x_test[:n_test], y_test[:n_test]
    x = np.concatenate([x_train, x_test])[:, None]
    y = np.concatenate([y_train, y_test]).astype(np.int64)
    test_mask = np.arange(len(x)) >= len(x_train)
    return x, y, test_mask, folder


def load_mnist(
    data_dir: Path | None, options: DataOptions, progress: LoadProgress | None = None
) -> Dataset:
    """MNIST: 70,000 handwritten digits, 28x28 grey; the standard 60,000/10,000 split."""
    x, y, test_mask, folder = _load("mnist", data_dir, options.limit)
    return Dataset(
        name="mnist",
        pixels=x,
        test_mask=test_mask,
        labels=y,
        class_names=tuple(str(d) for d in range(10)),
        description=f"MNIST handwritten digits, 28x28 grey ({len(x):,} images, standard split).",
        source=str(folder),
    )


def load_fashion_mnist(
    data_dir: Path | None, options: DataOptions, progress: LoadProgress | None = None
) -> Dataset:
    """Fashion-MNIST: 70,000 clothing images, 28x28 grey, 10 classes; the standard split."""
    x, y, test_mask, folder = _load("fashion-mnist", data_dir, options.limit)
    return Dataset(
        name="fashion-mnist",
        pixels=x,
        test_mask=test_mask,
        labels=y,
        class_names=FASHION_CLASSES,
        description=f"Fashion-MNIST clothing, 28x28 grey ({len(x):,} images, standard split).",
        source=str(folder),
    )
