import numpy as np
import pytest
import torch

from training.config import ModelConfig, TrainConfig
from training.data import load_dataset
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
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def trained_vae(digits):
    train, _ = digits.split()
    model = build_model(ModelConfig(kind="vae", image_shape=digits.image_shape, hidden=(64,)))
    fit(model, train.images, TrainConfig(epochs=30, batch_size=128, precision="fp32"))
    return model


def test_importance_weighting_tightens_the_elbo(digits, trained_vae):
    x = binarized(digits.split()[1].images, seed=0)
    elbo = negative_elbo(trained_vae, x)
    one = importance_weighted_nll(trained_vae, x, k=1)
    some = importance_weighted_nll(trained_vae, x, k=10)
    many = importance_weighted_nll(trained_vae, x, k=200)
    assert one == pytest.approx(elbo, rel=0.02)  # k = 1 is the ELBO (sampled KL)
    assert 0 < many < some < one


def test_iw_estimate_is_reproducible_for_a_seed(digits, trained_vae):
    x = binarized(digits.images[:50], seed=1)
    a = importance_weighted_nll(trained_vae, x, k=20, seed=3)
    assert importance_weighted_nll(trained_vae, x, k=20, seed=3) == a


def test_binarized_images_are_zeros_and_ones_with_the_pixel_means():
    x = np.full((2000, 1, 4, 4), 0.3, dtype=np.float32)
    b = binarized(x, seed=0)
    assert set(np.unique(b)) == {0.0, 1.0}
    assert b.mean() == pytest.approx(0.3, abs=0.01)


def test_pca_mse_falls_with_components_and_vanishes_at_full_rank(digits):
    train, test = digits.split()
    errors = [pca_mse(train.images, test.images, k) for k in (1, 2, 8, 64)]
    assert errors == sorted(errors, reverse=True)
    assert errors[-1] < 1e-10


def test_linear_probe_is_perfect_on_separable_codes_and_chance_on_noise():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    separable = np.c_[y * 5.0 + rng.normal(size=400), rng.normal(size=400)]
    noise = rng.normal(size=(400, 2))
    assert linear_probe_accuracy(separable[:300], y[:300], separable[300:], y[300:]) == 1.0
    assert 0.3 < linear_probe_accuracy(noise[:300], y[:300], noise[300:], y[300:]) < 0.7


def test_reconstruction_mse_is_zero_for_a_perfect_model_output_range(digits, trained_vae):
    mse = reconstruction_mse(trained_vae, digits.images[:100])
    z = encode_all(trained_vae, digits.images[:100])
    x_hat = decode_all(trained_vae, z)
    assert mse == pytest.approx(float(((x_hat - digits.images[:100]) ** 2).mean()), rel=1e-5)
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
    z = encode_all(trained_vae, digits.images[:300], batch_size=64)
    with torch.no_grad():
        expected = trained_vae.encode(torch.as_tensor(digits.images[:300])).numpy()
    np.testing.assert_allclose(z, expected, rtol=1e-5, atol=1e-6)
