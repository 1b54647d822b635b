import numpy as np
import pytest
import torch

from training import evaluate as evaluation
from training.config import ModelConfig, TrainConfig
from training.evaluate import (
    binarized,
    decode_all,
    encode_all,
    evaluate,
    importance_weighted_nll,
    linear_probe_accuracy,
    negative_elbo,
    pca_mse,
    reconstruction_mse,
)
from training.fit import fit
from training.models import build_model


@pytest.fixture(scope="module")
def trained_vae(digits):
    model = build_model(ModelConfig(kind="vae", image_shape=digits.image_shape, hidden=(64,)))
    config = TrainConfig(epochs=30, batch_size=128, precision="fp32")
    fit(model, digits.pixels, config, indices=digits.train_indices)
    return model


def test_importance_weighting_tightens_the_elbo(digits, trained_vae):
    x = binarized(digits.split()[1].pixels, seed=0)
    elbo = negative_elbo(trained_vae, x)
    one = importance_weighted_nll(trained_vae, x, k=1)
    some = importance_weighted_nll(trained_vae, x, k=10)
    many = importance_weighted_nll(trained_vae, x, k=200)
    assert one == pytest.approx(elbo, rel=0.02)  # k = 1 is the ELBO (sampled KL)
    assert 0 < many < some < one


def test_iw_estimate_is_reproducible_for_a_seed(digits, trained_vae):
    x = binarized(digits.pixels[:50], seed=1)
    a = importance_weighted_nll(trained_vae, x, k=20, seed=3)
    assert importance_weighted_nll(trained_vae, x, k=20, seed=3) == a


def test_binarized_images_are_zeros_and_ones_with_the_pixel_means():
    x = np.full((2000, 1, 4, 4), 0.3, dtype=np.float32)
    b = binarized(x, seed=0)
    assert set(np.unique(b)) == {0.0, 1.0}
    assert b.mean() == pytest.approx(0.3, abs=0.01)


def test_pca_mse_falls_with_components_and_vanishes_at_full_rank(digits):
    train, test = digits.split()
    errors = [pca_mse(train.pixels, test.pixels, k) for k in (1, 2, 8, 64)]
    assert errors == sorted(errors, reverse=True)
    assert errors[-1] < 1e-10


def test_linear_probe_is_perfect_on_separable_codes_and_chance_on_noise():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    separable = np.c_[y * 5.0 + rng.normal(size=400), rng.normal(size=400)]
    noise = rng.normal(size=(400, 2))
    assert linear_probe_accuracy(separable[:300], y[:300], separable[300:], y[300:]) == 1.0
    assert 0.3 < linear_probe_accuracy(noise[:300], y[:300], noise[300:], y[300:]) < 0.7


def test_reconstruction_mse_is_the_mean_squared_error_of_decoding_the_codes(digits, trained_vae):
    mse = reconstruction_mse(trained_vae, digits.pixels[:100])
    z = encode_all(trained_vae, digits.pixels[:100])
    x_hat = decode_all(trained_vae, z)
    expected = float(((x_hat - digits.floats(slice(100))) ** 2).mean())
    assert mse == pytest.approx(expected, rel=1e-5)
    assert 0 < mse < 0.1


def test_evaluate_reports_every_metric_for_a_vae(digits, trained_vae):
    m = evaluate(trained_vae, digits, iw_samples=10)
    assert m["model"] == "vae" and m["dataset"] == "digits" and m["latent_dim"] == 2
    assert m["n_test"] == digits.test_mask.sum()
    assert 0.3 < m["probe_accuracy"] <= 1.0  # 2-D codes of digits separate several classes
    assert m["nll_iw"] <= m["neg_elbo"] + 0.5
    assert m["recon_mse"] > 0 and m["pca_mse"] > 0


def test_evaluate_probes_attributes_when_there_are_no_classes(digits):
    from dataclasses import replace

    attrs = (digits.labels[:, None] == np.array([[0, 1]])).astype(np.uint8)
    ds = replace(
        digits, labels=None, class_names=(), attributes=attrs, attribute_names=("is_zero", "is_one")
    )
    model = build_model(ModelConfig(kind="ae", image_shape=ds.image_shape, hidden=(32,)))
    m = evaluate(model, ds)
    assert "neg_elbo" not in m
    assert 0.5 < m["probe_accuracy"] <= 1.0


def test_encode_all_matches_the_model_in_batches(trained_vae, digits):
    z = encode_all(trained_vae, digits.pixels[:300], batch_size=64)
    with torch.no_grad():
        expected = trained_vae.encode(torch.as_tensor(digits.floats(slice(300)))).numpy()
    np.testing.assert_allclose(z, expected, rtol=1e-5, atol=1e-6)


def test_metrics_read_through_indices_equal_those_of_a_copied_split(digits, trained_vae):
    rows = digits.test_indices
    x, test = digits.pixels, digits.floats(rows)
    assert reconstruction_mse(trained_vae, x, rows) == pytest.approx(
        reconstruction_mse(trained_vae, test), rel=1e-6
    )
    z = encode_all(trained_vae, x, batch_size=64, indices=rows)
    np.testing.assert_allclose(z, encode_all(trained_vae, test), rtol=1e-5, atol=1e-6)
    # Binarized a batch at a time, the draws are those of binarized() on the whole copy.
    whole = binarized(test, seed=4)
    assert negative_elbo(trained_vae, x, 4, rows, binarize=True) == pytest.approx(
        negative_elbo(trained_vae, whole, 4), rel=1e-6
    )
    assert importance_weighted_nll(trained_vae, x, 5, 4, rows, binarize=True) == pytest.approx(
        importance_weighted_nll(trained_vae, whole, 5, 4), rel=1e-6
    )
    train = digits.train_indices
    assert pca_mse(x, x, 4, train, rows) == pytest.approx(
        pca_mse(digits.floats(train), test, 4), rel=1e-5
    )


def test_evaluate_matches_the_metrics_of_the_copied_split(digits, trained_vae):
    train, test = digits.split()
    m = evaluate(trained_vae, digits, seed=2)
    assert m["recon_mse"] == pytest.approx(reconstruction_mse(trained_vae, test.floats()), 1e-6)
    assert m["pca_mse"] == pytest.approx(pca_mse(train.floats(), test.floats(), 2), rel=1e-5)
    x = binarized(test.pixels, seed=2)
    assert m["neg_elbo"] == pytest.approx(negative_elbo(trained_vae, x, 2), rel=1e-6)


def test_pca_is_fitted_on_at_most_max_pca_values(digits, monkeypatch):
    from sklearn.decomposition import PCA  # pca_mse imports it when called

    seen = []
    fit_pca = PCA.fit
    monkeypatch.setattr(PCA, "fit", lambda pca, x: seen.append(x.shape) or fit_pca(pca, x))
    monkeypatch.setattr(evaluation, "MAX_PCA_VALUES", 100 * 64)
    train, test = digits.split()
    assert 0 < pca_mse(train.pixels, test.pixels, 2) < 0.1
    assert seen == [(100, 64)]  # 100 images of 8x8 values, as float32
