"""Where a dataset is found: listing, locating and loading agree for every source and folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from test_idx import TRAIN_LABELS, make_idx_folder

from training.data import (
    DataOptions,
    DatasetError,
    available_datasets,
    idx,
    load_dataset,
    locate_dataset,
)
from training.data.dataset import cache_dir
from training.data.registry import SOURCES

# Small enough that loading every source takes about a second.
SMALL = DataOptions(limit=20, image_size=16)


def listed(data_dir: Path | None) -> dict[str, str | None]:
    """name -> where `python -m training datasets --data-dir data_dir` says it was found."""
    return {name: where for name, _, where in available_datasets(data_dir)}


def assert_each_listed_source_loads_from_where_it_was_listed(data_dir: Path) -> dict:
    found = {name: where for name, where in listed(data_dir).items() if where}
    for name, where in found.items():
        assert locate_dataset(name, data_dir) == where
        data = load_dataset(name, data_dir, SMALL)
        assert data.name == name and data.n_samples > 0
        if Path(where).is_dir():  # file sources; digits and faces describe where instead
            assert data.source == where, name
    return found


def make_celeba(root: Path, n: int = 3) -> Path:
    """A minimal CelebA layout in root: list_attr_celeba.txt and img_align_celeba/*.jpg."""
    (root / "img_align_celeba").mkdir(parents=True)
    rows = []
    for i in range(1, n + 1):
        Image.new("RGB", (178, 218), (40 * i, 90, 160)).save(
            root / "img_align_celeba" / f"{i:06d}.jpg"
        )
        rows.append(f"{i:06d}.jpg {1 if i % 2 else -1} -1")
    (root / "list_attr_celeba.txt").write_text("\n".join([str(n), "Smiling Male", *rows]) + "\n")
    return root


def partial_idx_folder(folder: Path) -> Path:
    """Like ../shared/data/fashion_mnist: the label files only."""
    make_idx_folder(folder)
    for part in idx.PARTS:
        if "images" in part:
            (folder / (part + ".gz")).unlink()
    return folder


@pytest.fixture
def debian(tmp_path, monkeypatch) -> Path:
    """Where Debian's Fashion-MNIST package would be: absent until a test puts files there."""
    folder = tmp_path / "debian" / "fashion-mnist"
    monkeypatch.setattr(idx, "DEBIAN_FASHION_MNIST_DIR", folder)
    return folder


@pytest.fixture
def no_download(monkeypatch):
    """Fail the test if anything tries to download."""

    def refuse(*args, **kwargs):
        raise AssertionError("downloaded although a data folder was given")

    monkeypatch.setattr(idx, "download_idx", refuse)


# --- the real shared data folder -----------------------------------------------------------------


@pytest.mark.shared_data("mnist", "fashion_mnist", "celeba_subset")
def test_every_source_listed_for_the_shared_data_folder_loads_from_where_it_was_listed(
    shared_data,
):
    found = assert_each_listed_source_loads_from_where_it_was_listed(shared_data)
    assert {"digits", "faces", "mnist", "celeba"} <= found.keys()


@pytest.mark.shared_data("celeba_subset")
def test_celeba_is_found_in_the_celeba_subset_folder_of_the_shared_data(shared_data):
    assert locate_dataset("celeba", shared_data) == str(shared_data / "celeba_subset")
    assert listed(shared_data)["celeba"] == str(shared_data / "celeba_subset")


@pytest.mark.shared_data("fashion_mnist")
def test_fashion_mnist_partial_in_the_shared_data_loads_from_debians_complete_copy(
    shared_data, debian_fashion_mnist
):
    debian = str(idx.DEBIAN_FASHION_MNIST_DIR)
    assert listed(shared_data)["fashion-mnist"] == debian
    data = load_dataset("fashion-mnist", shared_data, DataOptions(limit=100))
    assert data.source == debian and data.n_samples == 100


# --- generated data folders ----------------------------------------------------------------------


def test_every_source_found_in_a_data_folder_loads_from_where_it_was_listed(tmp_path, debian):
    data_dir = tmp_path / "data"
    make_idx_folder(data_dir / "mnist")
    partial_idx_folder(data_dir / "fashion_mnist")
    make_idx_folder(debian)
    make_celeba(data_dir / "celeba")
    Image.new("RGB", (8, 8), (1, 2, 3)).save(data_dir / "cover.png")  # so `folder` finds it
    found = assert_each_listed_source_loads_from_where_it_was_listed(data_dir)
    assert found == {
        "digits": "bundled with scikit-learn",
        "faces": found["faces"],
        "waves": found["waves"],  # generated, like faces
        "mnist": str(data_dir / "mnist"),
        "fashion-mnist": str(debian),
        "celeba": str(data_dir / "celeba"),
        "folder": str(data_dir),
    }


def test_a_complete_copy_in_the_data_folder_comes_before_debians(tmp_path, debian):
    make_idx_folder(tmp_path / "data" / "fashion-mnist", n_train=3)
    make_idx_folder(debian, n_train=6)
    assert locate_dataset("fashion-mnist", tmp_path / "data") == str(
        tmp_path / "data" / "fashion-mnist"
    )
    assert load_dataset("fashion-mnist", tmp_path / "data").n_samples == 3 + 4


def test_mnist_in_the_download_cache_is_used_when_the_data_folder_lacks_it(tmp_path, no_download):
    make_idx_folder(cache_dir() / "mnist")
    (tmp_path / "data").mkdir()
    assert listed(tmp_path / "data")["mnist"] == str(cache_dir() / "mnist")
    assert load_dataset("mnist", tmp_path / "data").source == str(cache_dir() / "mnist")


def test_found_nowhere_with_a_data_folder_names_the_missing_file_and_downloads_nothing(
    tmp_path, debian, no_download
):
    partial = partial_idx_folder(tmp_path / "data" / "fashion_mnist")
    assert locate_dataset("fashion-mnist", tmp_path / "data") is None
    assert listed(tmp_path / "data")["fashion-mnist"] is None
    # Named relative to the data folder: the app shows this message to students.
    with pytest.raises(
        DatasetError, match=r"^fashion_mnist/train-images-idx3-ubyte\(\.gz\): missing"
    ):
        load_dataset("fashion-mnist", tmp_path / "data")
    assert (partial / (TRAIN_LABELS + ".gz")).is_file()


@pytest.mark.parametrize("subfolder", ["", "celeba", "celeba_subset"])
def test_celeba_is_found_in_the_data_folder_or_its_conventional_subfolders(tmp_path, subfolder):
    root = make_celeba(tmp_path / "data" / subfolder)
    assert locate_dataset("celeba", tmp_path / "data") == str(root)
    data = load_dataset("celeba", tmp_path / "data", SMALL)
    assert data.source == str(root) and data.n_samples == 3


def test_celeba_found_nowhere_names_the_missing_table(tmp_path):
    (tmp_path / "data" / "celeba").mkdir(parents=True)
    assert locate_dataset("celeba", tmp_path / "data") is None
    with pytest.raises(DatasetError, match=r"list_attr_celeba.txt: missing"):
        load_dataset("celeba", tmp_path / "data")


def test_without_a_data_folder_each_source_is_located_as_it_is_listed():
    for name, _, where in available_datasets():
        assert locate_dataset(name) == where


def test_a_data_folder_that_does_not_exist_is_an_error_for_listing_and_loading(tmp_path):
    for look in (
        available_datasets,
        lambda d: locate_dataset("mnist", d),
        lambda d: load_dataset("mnist", d),
    ):
        with pytest.raises(DatasetError, match=r"absent: no such folder"):
            look(tmp_path / "absent")


def test_an_unknown_name_is_an_error_that_lists_the_sources():
    with pytest.raises(
        DatasetError, match=f"unknown dataset 'nope'; choose one of {', '.join(SOURCES)}"
    ):
        locate_dataset("nope")
