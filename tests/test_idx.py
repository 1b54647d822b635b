"""MNIST and Fashion-MNIST from IDX files: real data, generated files, bad input, downloads."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from training.data import DataOptions, idx
from training.data.dataset import DatasetError, cache_dir

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = idx.PARTS


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array: magic 0x000008DD, big-endian sizes, values."""
    header = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def write_idx(path: Path, array: np.ndarray) -> Path:
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def make_idx_folder(folder: Path, n_train: int = 6, n_test: int = 4, gz: bool = True) -> dict:
    """Four random IDX files in folder; returns the arrays written, by part name."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        TRAIN_IMAGES: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        TRAIN_LABELS: rng.integers(0, 10, n_train, dtype=np.uint8),
        TEST_IMAGES: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        TEST_LABELS: rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for part, array in arrays.items():
        write_idx(folder / (part + (".gz" if gz else "")), array)
    return arrays


# --- real data -------------------------------------------------------------------------------


@pytest.mark.shared_data("mnist")
def test_real_mnist_has_70000_images_with_the_published_label_counts(shared_data):
    data = idx.load_mnist(shared_data / "mnist", DataOptions())
    assert data.pixels.shape == (70_000, 1, 28, 28) and data.pixels.dtype == np.uint8
    assert data.pixels.min() == 0 and data.pixels.max() == 255
    assert data.labels.dtype == np.int64
    assert np.bincount(data.labels[:60_000]).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(data.labels[60_000:]).tolist() == MNIST_TEST_COUNTS
    assert np.array_equal(data.test_mask, np.arange(70_000) >= 60_000)
    assert data.class_names == tuple("0123456789")
    assert data.source == str(shared_data / "mnist")


@pytest.mark.shared_data("mnist")
def test_mnist_is_found_in_a_mnist_subfolder_of_the_data_dir(shared_data):
    assert idx.locate_mnist(shared_data) == str(shared_data / "mnist")


@pytest.mark.shared_data("fashion_mnist")
def test_fashion_mnist_from_the_debian_package_matches_the_official_labels(
    shared_data, debian_fashion_mnist
):
    data = idx.load_fashion_mnist(None, DataOptions())
    assert data.pixels.shape == (70_000, 1, 28, 28)
    assert data.source == str(idx.DEBIAN_FASHION_MNIST_DIR)
    assert data.class_names[0] == "T-shirt/top" and data.class_names[9] == "Ankle boot"
    assert np.bincount(data.labels).tolist() == [7000] * 10
    # The shared folder holds the byte-exact official label files: Debian's must agree.
    official = shared_data / "fashion_mnist"
    assert np.array_equal(data.labels[:60_000], idx.read_idx(official / (TRAIN_LABELS + ".gz")))
    assert np.array_equal(data.labels[60_000:], idx.read_idx(official / (TEST_LABELS + ".gz")))


# --- generated files ---------------------------------------------------------------------------


def test_the_search_path_is_the_data_folder_and_its_subfolders_then_debian_then_the_cache(
    tmp_path,
):
    assert idx.search_path("fashion-mnist", tmp_path) == [
        tmp_path,
        tmp_path / "fashion-mnist",
        tmp_path / "fashion_mnist",
        idx.DEBIAN_FASHION_MNIST_DIR,
        cache_dir() / "fashion-mnist",
    ]
    assert idx.search_path("mnist", None) == [cache_dir() / "mnist"]


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_round_trips_raw_and_gzipped_files(tmp_path, suffix):
    images = np.arange(3 * 28 * 28, dtype=np.uint32).reshape(3, 28, 28).astype(np.uint8)
    labels = np.array([7, 0, 9], dtype=np.uint8)
    assert np.array_equal(idx.read_idx(write_idx(tmp_path / ("x" + suffix), images)), images)
    assert np.array_equal(idx.read_idx(write_idx(tmp_path / ("y" + suffix), labels)), labels)


@pytest.mark.parametrize("gz", [True, False])
def test_load_puts_train_then_test_as_bytes_that_scale_to_unit_range(tmp_path, gz):
    arrays = make_idx_folder(tmp_path, n_train=6, n_test=4, gz=gz)
    data = idx.load_mnist(tmp_path, DataOptions())
    expected = np.concatenate([arrays[TRAIN_IMAGES], arrays[TEST_IMAGES]])[:, None]
    assert data.pixels.dtype == np.uint8 and np.array_equal(data.pixels, expected)
    assert np.array_equal(data.floats(), expected / np.float32(255))
    assert data.labels.tolist() == [*arrays[TRAIN_LABELS], *arrays[TEST_LABELS]]
    assert data.test_mask.tolist() == [False] * 6 + [True] * 4
    assert idx.locate_mnist(tmp_path) == str(tmp_path)


def test_files_named_with_kaggles_dot_spelling_are_found(tmp_path):
    make_idx_folder(tmp_path, gz=False)
    for part in idx.PARTS:
        (tmp_path / part).rename(tmp_path / part.replace("-idx", ".idx"))
    assert idx.load_fashion_mnist(tmp_path, DataOptions()).n_samples == 10


@pytest.mark.parametrize(
    ("limit", "n_train", "n_test"), [(5, 3, 2), (2, 1, 1), (1, 1, 0), (99, 6, 4)]
)
def test_limit_keeps_the_first_images_of_each_part_in_proportion(tmp_path, limit, n_train, n_test):
    arrays = make_idx_folder(tmp_path, n_train=6, n_test=4)
    data = idx.load_mnist(tmp_path, DataOptions(limit=limit))
    assert data.test_mask.tolist() == [False] * n_train + [True] * n_test
    expected = [*arrays[TRAIN_LABELS][:n_train], *arrays[TEST_LABELS][:n_test]]
    assert data.labels.tolist() == expected


# --- bad input ---------------------------------------------------------------------------------


def test_wrong_magic_is_rejected_naming_the_file(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(bytes([0, 0, 0x0D, 3]) + bytes(12))  # float32 images: not ours
    with pytest.raises(DatasetError, match=r"x: not an IDX file .*magic 00000d03"):
        idx.read_idx(path)


@pytest.mark.parametrize(("cut", "problem"), [(-1, "truncated"), (+2, "2 extra bytes")])
def test_a_byte_count_unlike_the_header_is_rejected(tmp_path, cut, problem):
    data = idx_bytes(np.zeros((2, 28, 28), np.uint8))
    data = data[:cut] if cut < 0 else data + bytes(cut)
    (tmp_path / "x").write_bytes(data)
    with pytest.raises(DatasetError, match=rf"x: {problem}: header says \(2, 28, 28\) = 1568"):
        idx.read_idx(tmp_path / "x")


def test_a_truncated_header_is_rejected(tmp_path):
    (tmp_path / "x").write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(DatasetError, match="x: truncated header"):
        idx.read_idx(tmp_path / "x")


@pytest.mark.parametrize("damage", ["not gzip", "cut short", "flipped bytes"])
def test_a_corrupt_gzip_file_is_rejected(tmp_path, damage):
    good = gzip.compress(idx_bytes(np.arange(500, dtype=np.uint32).astype(np.uint8)))
    data = {
        "not gzip": b"<html>404</html>",
        "cut short": good[: len(good) // 2],
        "flipped bytes": good[:20] + bytes(b ^ 0xFF for b in good[20:40]) + good[40:],
    }[damage]
    (tmp_path / "y.gz").write_bytes(data)
    with pytest.raises(DatasetError, match=r"y.gz: corrupt or truncated"):
        idx.read_idx(tmp_path / "y.gz")


def test_image_and_label_counts_that_disagree_are_rejected(tmp_path):
    make_idx_folder(tmp_path, n_train=6)
    write_idx(tmp_path / (TRAIN_LABELS + ".gz"), np.zeros(5, np.uint8))
    with pytest.raises(DatasetError, match=rf"{TRAIN_IMAGES}.gz: 6 images but {TRAIN_LABELS}.gz"):
        idx.load_mnist(tmp_path, DataOptions())


def test_labels_outside_0_to_9_are_rejected(tmp_path):
    make_idx_folder(tmp_path, n_test=4)
    write_idx(tmp_path / (TEST_LABELS + ".gz"), np.array([1, 2, 3, 10], np.uint8))
    with pytest.raises(DatasetError, match=rf"{TEST_LABELS}.gz: labels must be 0..9, found 10"):
        idx.load_mnist(tmp_path, DataOptions())


def test_a_missing_file_is_named_with_the_folders_searched(tmp_path):
    make_idx_folder(tmp_path)
    (tmp_path / (TEST_LABELS + ".gz")).unlink()
    with pytest.raises(
        DatasetError, match=rf"{TEST_LABELS}\(\.gz\): missing .*looked in {tmp_path}"
    ):
        idx.load_mnist(tmp_path, DataOptions())
    assert idx.locate_mnist(tmp_path) is None


# --- downloads, from a server on 127.0.0.1 started by the test ---------------------------------


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def mirror(tmp_path):
    """(base URL, md5s): a local server whose good/ folder holds four generated .gz files."""
    arrays = make_idx_folder(tmp_path / "www" / "good")
    handler = functools.partial(QuietHandler, directory=str(tmp_path / "www"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    md5s = {
        p + ".gz": hashlib.md5((tmp_path / "www" / "good" / (p + ".gz")).read_bytes()).hexdigest()
        for p in arrays
    }
    yield f"http://127.0.0.1:{server.server_address[1]}/", md5s
    server.shutdown()
    server.server_close()


@pytest.fixture
def refused_url():
    """A URL on a port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def test_download_places_all_four_verified_files(tmp_path, mirror):
    url, md5s = mirror
    dest = idx.download_idx("mnist", tmp_path / "dest", mirrors=(url + "good/",), md5s=md5s)
    assert sorted(p.name for p in dest.iterdir()) == sorted(md5s)
    for name in md5s:
        assert (dest / name).read_bytes() == (tmp_path / "www" / "good" / name).read_bytes()


def test_download_falls_back_to_the_second_mirror_when_the_first_answers_404(tmp_path, mirror):
    url, md5s = mirror
    dest = idx.download_idx(
        "mnist", tmp_path / "d", mirrors=(url + "gone/", url + "good/"), md5s=md5s
    )
    assert sorted(p.name for p in dest.iterdir()) == sorted(md5s)


def test_a_checksum_mismatch_is_rejected_and_leaves_no_file(tmp_path, mirror):
    url, md5s = mirror
    md5s = {**md5s, TRAIN_IMAGES + ".gz": "0" * 32}
    with pytest.raises(
        DatasetError, match=r"train-images-idx3-ubyte.gz failed: .*checksum mismatch"
    ):
        idx.download_idx("mnist", tmp_path / "dest", mirrors=(url + "good/",), md5s=md5s)
    assert list((tmp_path / "dest").iterdir()) == []


def test_a_mirror_that_never_answers_times_out_and_the_next_is_tried(tmp_path, mirror, monkeypatch):
    url, md5s = mirror
    monkeypatch.setattr(idx, "DOWNLOAD_TIMEOUT_S", 0.1)
    with socket.socket() as silent:  # accepts connections (the backlog) but never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        slow = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        dest = idx.download_idx("mnist", tmp_path / "d", mirrors=(slow, url + "good/"), md5s=md5s)
    assert len(list(dest.iterdir())) == 4


def test_files_already_downloaded_and_verified_are_kept(tmp_path, mirror, refused_url):
    url, md5s = mirror
    idx.download_idx("mnist", tmp_path / "d", mirrors=(url + "good/",), md5s=md5s)
    assert idx.download_idx("mnist", tmp_path / "d", mirrors=(refused_url,), md5s=md5s)


def test_load_mnist_downloads_into_the_cache_when_found_nowhere(mirror, monkeypatch):
    url, md5s = mirror
    monkeypatch.setitem(idx.MIRRORS, "mnist", (url + "good/",))
    monkeypatch.setitem(idx.MD5S, "mnist", md5s)
    assert idx.locate_mnist(None) is None
    data = idx.load_mnist(None, DataOptions())
    assert data.n_samples == 10 and data.source == str(cache_dir() / "mnist")
    assert idx.locate_mnist(None) == str(cache_dir() / "mnist")


def test_no_network_gives_an_error_that_says_where_it_looked_and_how_to_fix_it(
    refused_url, monkeypatch
):
    monkeypatch.setitem(idx.MIRRORS, "mnist", (refused_url,))
    with pytest.raises(DatasetError) as e:
        idx.load_mnist(None, DataOptions())
    message = str(e.value)
    assert f"mnist not found (looked in {cache_dir() / 'mnist'})" in message
    assert f"download of {TRAIN_IMAGES}.gz failed: {refused_url}" in message
    assert "Connection refused" in message and "--data-dir" in message
    assert [p.name for p in (cache_dir() / "mnist").iterdir()] == []


def test_fashion_mnist_error_suggests_the_debian_package(tmp_path, refused_url, monkeypatch):
    monkeypatch.setattr(idx, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "absent")
    monkeypatch.setitem(idx.MIRRORS, "fashion-mnist", (refused_url,))
    assert idx.locate_fashion_mnist(None) is None
    with pytest.raises(DatasetError, match=rf"looked in {tmp_path / 'absent'}, .*apt-get install"):
        idx.load_fashion_mnist(None, DataOptions())
