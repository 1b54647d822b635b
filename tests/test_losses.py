import math

import pytest
import torch
from torch.distributions import Bernoulli, Normal
from torch.distributions import kl_divergence as torch_kl

from training.losses import (
    gaussian_log_density,
    kl_divergence,
    loss_terms,
    reconstruction_loss,
    sparsity_penalty,
)
from training.models import ModelOutput


def test_kl_matches_torch_distributions():
    gen = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(16, 5, generator=gen), torch.randn(16, 5, generator=gen)
    q = Normal(mu, (0.5 * logvar).exp())
    p = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected = torch_kl(q, p).sum(1)
    assert torch.allclose(kl_divergence(mu, logvar), expected, atol=1e-5)


def test_kl_is_zero_exactly_at_the_prior():
    zeros = torch.zeros(3, 4)
    assert torch.equal(kl_divergence(zeros, zeros), torch.zeros(3))


def test_bernoulli_reconstruction_is_the_negative_log_likelihood():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(4, 1, 5, 5, generator=gen)
    x = torch.bernoulli(torch.full((4, 1, 5, 5), 0.5), generator=gen)
    expected = -Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(reconstruction_loss(logits, x, "bernoulli"), expected, atol=1e-5)


def test_gaussian_reconstruction_is_the_summed_squared_error():
    logits, x = torch.zeros(2, 3, 4, 4), torch.ones(2, 3, 4, 4)
    # sigmoid(0) = 0.5, so each of the 48 pixels contributes 0.25
    assert torch.allclose(reconstruction_loss(logits, x, "gaussian"), torch.full((2,), 12.0))


def test_unknown_likelihood_is_refused():
    with pytest.raises(ValueError, match="likelihood"):
        reconstruction_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), "poisson")


def test_gaussian_log_density_matches_torch_normal():
    gen = torch.Generator().manual_seed(2)
    z, mu, logvar = (torch.randn(6, 3, generator=gen) for _ in range(3))
    expected = Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1)
    assert torch.allclose(gaussian_log_density(z, mu, logvar), expected, atol=1e-5)


def test_loss_terms_weight_kl_by_beta_and_code_by_sparsity():
    logits = torch.zeros(2, 1, 2, 2)
    x = torch.ones(2, 1, 2, 2)
    mu, logvar = torch.ones(2, 3), torch.zeros(2, 3)
    out = ModelOutput(logits, mu, mu, logvar)
    terms = loss_terms(out, x, "bernoulli", beta=0.5, sparsity=2.0)
    recon = 4 * math.log(2)  # BCE of p = 0.5 on four pixels
    assert terms["recon"].item() == pytest.approx(recon, rel=1e-6)
    assert terms["kl"].item() == pytest.approx(1.5)  # 0.5 * |mu|^2 over three dimensions
    assert terms["l1"].item() == pytest.approx(3.0)
    assert terms["total"].item() == pytest.approx(recon + 0.5 * 1.5 + 2.0 * 3.0, rel=1e-6)


def test_an_autoencoder_has_no_kl_term():
    z = torch.zeros(2, 3)
    terms = loss_terms(
        ModelOutput(torch.zeros(2, 1, 2, 2), z, z, None), torch.ones(2, 1, 2, 2), "bernoulli"
    )
    assert set(terms) == {"recon", "total"}


def test_sparsity_penalty_is_the_l1_norm():
    assert torch.equal(
        sparsity_penalty(torch.tensor([[1.0, -2.0], [0.0, 0.5]])), torch.tensor([3.0, 0.5])
    )


def test_calibrated_likelihood_against_a_hand_computed_value():
    # Two images of two pixels, decoded to 0.5 everywhere: squared errors (0.25, 0) and
    # (0.04, 0.01), so sigma^2 = mean = 0.075, and each image's -log N(x; 0.5, sigma^2) is
    # sum(se) / (2 sigma^2) + 2 * 1/2 * log(2 pi sigma^2).
    x = torch.tensor([[[[1.0, 0.5]]], [[[0.3, 0.6]]]])
    logits = torch.zeros_like(x)
    variance = (0.25 + 0 + 0.04 + 0.01) / 4
    constant = math.log(2 * math.pi * variance)
    expected = torch.tensor([0.25 / (2 * variance) + constant, 0.05 / (2 * variance) + constant])
    assert torch.allclose(reconstruction_loss(logits, x, "calibrated"), expected, atol=1e-6)


def test_calibrated_likelihood_is_a_normal_density_at_the_optimal_sigma():
    gen = torch.Generator().manual_seed(0)
    logits, x = torch.randn(8, 1, 4, 4, generator=gen), torch.rand(8, 1, 4, 4, generator=gen)
    mean = torch.sigmoid(logits)
    sigma = (mean - x).square().mean().sqrt()
    expected = -Normal(mean, sigma).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(reconstruction_loss(logits, x, "calibrated"), expected, atol=1e-4)


def test_calibrated_likelihood_stays_finite_for_a_perfect_batch():
    x = torch.full((2, 1, 2, 2), 0.5)
    assert torch.isfinite(reconstruction_loss(torch.zeros_like(x), x, "calibrated")).all()
