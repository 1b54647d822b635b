"""The Dataset value: uint8 pixels, floats made on demand, the split as indices, the fingerprint."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image

from training.data import DataOptions, Dataset, load_dataset


def folder_of_pngs(path, n=5):
    for i in range(n):
        Image.new("RGB", (12, 10), (40 * i, 200, 7)).save(path / f"{i}.png")
    return path


def loaded(name: str, tmp_path, shared_data=None) -> Dataset:
    if name == "folder":
        return load_dataset("folder", folder_of_pngs(tmp_path), DataOptions(image_size=8))
    if name == "faces":
        return load_dataset("faces", options=DataOptions(limit=30, image_size=16))
    if name == "mnist":
        return load_dataset("mnist", shared_data / "mnist", DataOptions(limit=500))
    return load_dataset(name)


@pytest.mark.parametrize("name", ["digits", "faces", "folder", "waves"])
def test_a_loaded_dataset_holds_uint8_pixels_whose_floats_are_pixels_over_255(name, tmp_path):
    data = loaded(name, tmp_path)
    assert data.pixels.dtype == np.uint8 and data.pixels.ndim == 4
    x = data.floats()
    assert x.dtype == np.float32 and np.array_equal(x, data.pixels / np.float32(255))
    assert np.array_equal(data.floats(2), x[2]) and data.floats(2).shape == data.image_shape
    rows = data.test_indices
    assert np.array_equal(data.floats(rows), x[data.test_mask])


@pytest.mark.shared_data("mnist")
def test_real_mnist_holds_its_file_bytes_as_pixels(shared_data, tmp_path):
    data = loaded("mnist", tmp_path, shared_data)
    assert data.pixels.dtype == np.uint8 and data.pixels.max() == 255
    assert np.array_equal(data.floats(slice(10)), data.pixels[:10] / np.float32(255))


def test_float_images_are_refused_naming_the_field():
    with pytest.raises(ValueError, match="pixels must be .* uint8"):
        Dataset("x", np.zeros((2, 1, 4, 4), np.float32), np.zeros(2, bool), "floats")


def test_digits_keep_their_17_levels_as_rounded_bytes():
    from sklearn.datasets import load_digits

    levels = load_digits().images[:, None]  # 0..16
    data = load_dataset("digits")
    assert np.array_equal(data.pixels, np.round(levels * 255 / 16))
    assert np.abs(data.floats() - levels / 16).max() <= 0.5 / 255 + 1e-6  # half a byte step


def test_the_fingerprint_hashes_the_bytes_the_float_images_were_quantized_to():
    from sklearn.datasets import load_digits

    data = load_dataset("digits")
    # How fingerprint() hashed when images were floats k/16: the same value for the same data.
    floats = (load_digits().images / 16.0).astype(np.float32)[:, None]
    old = hashlib.sha256()
    old.update(str(floats.shape).encode())
    old.update(np.round(floats * 255).astype(np.uint8).tobytes())
    old.update(data.test_mask.tobytes())
    old.update(data.labels.astype(np.int64).tobytes())
    assert data.fingerprint() == old.hexdigest()[:16] == "9e55d6ff47fe7d20"


def test_train_and_test_indices_partition_the_rows():
    data = load_dataset("digits")
    train, test = data.train_indices, data.test_indices
    assert np.array_equal(np.sort(np.r_[train, test]), np.arange(data.n_samples))
    assert not data.test_mask[train].any() and data.test_mask[test].all()
    assert np.array_equal(data.pixels[train], data.split()[0].pixels)
