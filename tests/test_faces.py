"""The procedural faces: deterministic, varied, fast, and their attributes visible in the pixels."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from training.data import DataOptions, faces, load_dataset
from training.data.faces import ATTRIBUTE_NAMES, generate_faces, load_faces, render_faces

# Windows (rows, cols) of a 32 px face that hold the mouth and the eyes whatever the pose.
MOUTH_32 = (slice(19, 29), slice(9, 23))
EYES_32 = (slice(10, 20), slice(3, 29))


@pytest.fixture(scope="module")
def sample():
    """2,000 faces at 32 px: enough for frequency, correlation and the pixel oracles."""
    return generate_faces(2000, image_size=32, seed=7)


def test_attribute_names_include_the_celeba_ones_the_explorer_uses():
    assert {"Smiling", "Eyeglasses", "Blond_Hair", "Mouth_Slightly_Open"} <= set(ATTRIBUTE_NAMES)
    assert len(set(ATTRIBUTE_NAMES)) == len(ATTRIBUTE_NAMES)


def test_same_seed_gives_identical_faces_and_another_seed_different_ones():
    x1, a1 = generate_faces(40, seed=3)
    x2, a2 = generate_faces(40, seed=3)
    x3, a3 = generate_faces(40, seed=4)
    assert np.array_equal(x1, x2) and np.array_equal(a1, a2)
    assert not np.array_equal(x1, x3) and not np.array_equal(a1, a3)


def test_the_first_faces_do_not_depend_on_how_many_are_drawn():
    small, a_small = generate_faces(30, image_size=32, seed=5)
    large, a_large = generate_faces(600, image_size=32, seed=5)  # spans several chunks
    assert np.array_equal(small, large[:30]) and np.array_equal(a_small, a_large[:30])


@pytest.mark.parametrize("size", [32, 64])
def test_images_are_uint8_rgb_of_the_requested_size(size):
    x, a = generate_faces(10, image_size=size)
    assert x.shape == (10, 3, size, size) and x.dtype == np.uint8
    assert a.shape == (10, len(ATTRIBUTE_NAMES)) and a.dtype == np.uint8
    assert set(np.unique(a)) <= {0, 1}
    assert x.min() < 60 and x.max() > 200  # dark features and bright whites are both there


def test_each_attribute_is_a_fair_coin_independent_of_the_others(sample):
    _, a = sample
    assert np.all((a.mean(0) > 0.35) & (a.mean(0) < 0.65)), a.mean(0)
    corr = np.corrcoef(a.T.astype(float))
    off_diagonal = corr[~np.eye(len(ATTRIBUTE_NAMES), dtype=bool)]
    assert np.abs(off_diagonal).max() < 0.1


def test_faces_with_identical_attributes_still_vary_in_background_skin_and_pose(sample):
    x, a = sample
    same = np.all(a == a[0], axis=1)
    assert same.sum() >= 20
    group = x[same].astype(float)
    corner = group[:, :, :2, :2].mean(axis=(2, 3))  # background colour, (n, 3)
    cheek = group[:, :, 19:21, 10:12].mean(axis=(2, 3))  # skin tone, (n, 3)
    assert corner.std(0).min() > 12  # pastel backgrounds: they vary, but less than a smile
    assert cheek.std(0).max() > 15
    # No two faces of the group are the same picture.
    assert len({img.tobytes() for img in x[same]}) == same.sum()


def _oracle_accuracy(x, y, window):
    """Held-out accuracy of a logistic regression on the raw pixels of window."""
    rows, cols = window
    features = x[:, :, rows, cols].reshape(len(x), -1).astype(np.float32) / 255
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=300))
    model.fit(features[:1500], y[:1500])
    return model.score(features[1500:2000], y[1500:2000])


def test_smiling_can_be_read_from_the_mouth_pixels_by_a_linear_model(sample):
    x, a = sample
    assert _oracle_accuracy(x, a[:, ATTRIBUTE_NAMES.index("Smiling")], MOUTH_32) >= 0.95


def test_eyeglasses_can_be_read_from_the_eye_pixels_by_a_linear_model(sample):
    x, a = sample
    assert _oracle_accuracy(x, a[:, ATTRIBUTE_NAMES.index("Eyeglasses")], EYES_32) >= 0.95


def test_the_oracle_is_local_eyeglasses_cannot_be_read_from_the_mouth(sample):
    x, a = sample
    assert _oracle_accuracy(x, a[:, ATTRIBUTE_NAMES.index("Eyeglasses")], MOUTH_32) < 0.75


@pytest.mark.parametrize("name", ATTRIBUTE_NAMES)
def test_flipping_one_attribute_changes_the_picture_of_the_same_person(name):
    a = np.zeros((8, len(ATTRIBUTE_NAMES)), np.uint8)
    a[4:] = 1  # with every other attribute off, then on
    flipped = a.copy()
    j = ATTRIBUTE_NAMES.index(name)
    flipped[:, j] = 1 - flipped[:, j]
    x, x_flipped = render_faces(a, 64, seed=1), render_faces(flipped, 64, seed=1)
    changed = np.abs(x.astype(int) - x_flipped).max(axis=1) > 30  # (8, 64, 64)
    assert np.all(changed.sum(axis=(1, 2)) >= 20)  # every face shows it
    assert np.all(changed.mean(axis=(1, 2)) < 0.5)  # and it is the same person


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_samples": 0}, "n_samples"),
        ({"n_samples": 2.5}, "n_samples"),
        ({"n_samples": 4, "image_size": 8}, "image_size"),
        ({"n_samples": 4, "image_size": 1000}, "image_size"),
    ],
)
def test_bad_arguments_raise_a_value_error_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        generate_faces(**kwargs)


def test_render_faces_rejects_attributes_of_the_wrong_width():
    with pytest.raises(ValueError, match="attributes"):
        render_faces(np.zeros((3, 2), np.uint8))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path))
    return tmp_path


def test_load_faces_builds_a_dataset_with_its_attributes(cache):
    data = load_faces(None, DataOptions(limit=50, image_size=32, seed=2))
    x, a = generate_faces(50, image_size=32, seed=2)
    assert data.name == "faces" and data.image_shape == (3, 32, 32)
    assert data.attribute_names == ATTRIBUTE_NAMES
    assert np.array_equal(data.attributes, a)
    assert data.pixels.dtype == np.uint8 and np.array_equal(data.pixels, x)
    assert 0 < data.test_mask.sum() < 50
    assert str(cache) in data.source and data.description


def test_load_faces_writes_the_cache_once_and_then_reads_it(cache, monkeypatch):
    options = DataOptions(limit=40, image_size=32, seed=1)
    first = load_faces(None, options)
    assert [p.name for p in cache.iterdir()] == [f"faces-40-32-1-v{faces.VERSION}.npz"]

    def fail(*args, **kwargs):
        raise AssertionError("generate_faces called although the cache exists")

    monkeypatch.setattr(faces, "generate_faces", fail)
    second = load_faces(None, options)
    assert np.array_equal(first.pixels, second.pixels)
    assert np.array_equal(first.attributes, second.attributes)


def test_a_corrupt_cache_file_is_rebuilt(cache):
    options = DataOptions(limit=20, image_size=32)
    path = cache / f"faces-20-32-0-v{faces.VERSION}.npz"
    path.write_bytes(b"not an npz file")
    data = load_faces(None, options)
    assert data.n_samples == 20
    assert np.array_equal(data.attributes, generate_faces(20, 32)[1])
    assert load_faces(None, options).n_samples == 20  # the rebuilt file reads back
    assert not list(cache.glob("*.tmp"))


def test_a_cache_file_of_the_wrong_shape_is_rebuilt(cache):
    path = cache / f"faces-20-32-0-v{faces.VERSION}.npz"
    np.savez(path, images=np.zeros((3, 3, 32, 32), np.uint8), attributes=np.zeros((3, 5)))
    assert load_faces(None, DataOptions(limit=20, image_size=32)).n_samples == 20


def test_locate_faces_says_whether_the_default_set_is_cached(cache):
    assert "first use" in faces.locate_faces(None)
    default = cache / f"faces-{faces.DEFAULT_N_FACES}-64-0-v{faces.VERSION}.npz"
    default.write_bytes(b"")
    assert str(default) in faces.locate_faces(None)


def test_the_registry_loads_faces_by_name(cache):
    data = load_dataset("faces", options=DataOptions(limit=30, image_size=32, seed=3))
    assert data.name == "faces" and data.n_samples == 30
    assert data.attribute_names == ATTRIBUTE_NAMES
