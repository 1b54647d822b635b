from dataclasses import replace

import numpy as np
import pytest
from pairs import small_digits_pair
from sklearn import metrics

from explorer.core import features
from explorer.core.features import (
    add_noise,
    confusion_matrix,
    denoising_configs,
    per_image_mse,
    probe,
    train_denoising_ae,
)
from training.config import ModelConfig
from training.data import Dataset
from training.data.dataset import seeded_test_mask
from training.evaluate import decode_all, encode_all


@pytest.fixture(scope="module")
def pair(digits):
    return small_digits_pair(digits)


def test_confusion_matrix_equals_scikit_learns():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    y_pred[y_pred == 3] = 2  # a class never predicted: its column is zero
    want = metrics.confusion_matrix(y_true, y_pred, labels=range(5))
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred, 5), want)
    assert confusion_matrix([], [], 3).sum() == 0


@pytest.mark.parametrize(
    "y_true, y_pred", [([0, 1], [0]), ([0, 3], [0, 1]), ([-1, 0], [0, 0]), ([[0]], [[0]])]
)
def test_confusion_matrix_refuses_mismatched_or_out_of_range_labels(y_true, y_pred):
    with pytest.raises(ValueError):
        confusion_matrix(np.array(y_true), np.array(y_pred), 3)


def test_the_probe_is_perfect_on_separable_codes_and_chance_on_random_labels():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    separable = rng.normal(size=(600, 2)) * 0.1 + np.eye(3)[y][:, :2] * 5
    predicted = probe(separable[:400], y[:400], separable[400:])
    assert features.accuracy(y[400:], predicted) == 1.0
    noise = rng.normal(size=(600, 4))
    guessed = probe(noise[:400], y[:400], noise[400:])
    assert 0.2 < features.accuracy(y[400:], guessed) < 0.5
    assert probe(noise[:10], np.zeros(10, int), noise[10:]) is None


def test_noise_is_seeded_clipped_and_zero_noise_keeps_the_image(digits):
    x = digits.pixels[:20]
    noisy = add_noise(x, 0.5, seed=1)
    assert noisy.dtype == np.float32 and noisy.shape == x.shape
    assert noisy.min() == 0 and noisy.max() == 1  # clipped, and big enough to reach both ends
    np.testing.assert_array_equal(noisy, add_noise(x, 0.5, seed=1))
    assert not np.array_equal(noisy, add_noise(x, 0.5, seed=2))
    np.testing.assert_allclose(add_noise(x, 0.0, seed=1), x / 255, atol=1e-7)
    with pytest.raises(ValueError, match="std"):
        add_noise(x, -0.1, seed=0)


def test_per_image_mse_is_the_mean_square_per_image():
    a, b = np.zeros((2, 1, 2, 2)), np.array([np.full((1, 2, 2), 0.5), np.zeros((1, 2, 2))])
    np.testing.assert_allclose(per_image_mse(a, b), [0.25, 0.0])


def test_the_denoising_ae_has_the_pair_ae_architecture_and_noisy_inputs(digits, pair):
    model, config = denoising_configs(pair.models["ae"].config, digits)
    assert model == pair.models["ae"].config and config.noise_std == features.NOISE_STD
    vae_model, _ = denoising_configs(pair.models["vae"].config, digits)
    assert vae_model.kind == "ae"


def test_a_denoising_ae_cleans_noisy_images_better_than_a_plain_one(digits):
    model, config = denoising_configs(ModelConfig(kind="ae", image_shape=(1, 8, 8)), digits)
    config = replace(config, epochs=40)
    denoiser = train_denoising_ae(digits, model, config)
    plain = train_denoising_ae(digits, model, replace(config, noise_std=0.0))
    clean = digits.floats(digits.test_indices)
    noisy = add_noise(clean, features.NOISE_STD, seed=0)
    errors = {
        name: per_image_mse(decode_all(m, encode_all(m, noisy)), clean).mean()
        for name, m in (("denoiser", denoiser), ("plain", plain))
    }
    assert errors["denoiser"] < errors["plain"], errors
    assert 0 < features.training_seconds(digits, model, config) < 60


def test_probe_codes_are_the_maps_points_split_into_train_and_test(digits, pair):
    codes = features.probe_codes(pair)
    assert len(codes.train_rows) + len(codes.test_rows) == len(pair.indices)
    assert not np.isin(codes.test_rows, digits.train_indices).any()
    assert np.isin(codes.train_rows, digits.train_indices).all()
    for kind in features.PROBE_KINDS:
        assert codes.train[kind].shape == (len(codes.train_rows), 2)
        assert codes.test[kind].shape == (len(codes.test_rows), 2)
    np.testing.assert_array_equal(
        codes.test["vae"], pair.codes["vae"][pair.dataset.test_mask[pair.indices]]
    )
    y = features.targets(digits)["class"][0]
    predictions = features.probe_predictions(codes, y)
    truth = y[codes.test_rows]
    for kind, predicted in predictions.items():
        assert features.accuracy(truth, predicted) > 2 * features.chance(truth), kind


def test_targets_are_the_class_else_each_attribute(digits):
    assert list(features.targets(digits)) == ["class"]
    rng = np.random.default_rng(0)
    data = Dataset(
        "tiny",
        rng.integers(0, 255, (30, 1, 4, 4), dtype=np.uint8),
        seeded_test_mask(30),
        "tiny",
        attributes=rng.integers(0, 2, (30, 2)).astype(np.uint8),
        attribute_names=("Smiling", "Eyeglasses"),
    )
    found = features.targets(data)
    assert list(found) == ["Smiling", "Eyeglasses"]
    np.testing.assert_array_equal(found["Eyeglasses"][0], data.attributes[:, 1])
    assert found["Smiling"][1] == ("not Smiling", "Smiling")


def test_the_confusion_figure_shows_the_counts():
    counts = np.array([[3, 1], [0, 4]])
    fig = features.confusion_figure(counts, ("a", "b"), "AE")
    np.testing.assert_array_equal(fig.data[0].z, counts)
    assert list(fig.data[0].x) == ["a", "b"]
