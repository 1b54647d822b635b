import pytest
import torch

from training.config import ModelConfig, TrainConfig
from training.fit import fit
from training.losses import loss_terms
from training.models import VAE, build_model
from training.presets import default_model_config

SHAPES = [(1, 8, 8), (1, 28, 28), (3, 64, 64), (3, 21, 35)]


@pytest.mark.parametrize("kind", ["ae", "vae"])
@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("shape", SHAPES)
def test_every_model_keeps_the_contract(kind, arch, shape):
    config = default_model_config(shape, kind, arch=arch, latent_dim=3)
    model = build_model(config).eval()
    x = torch.rand(5, *shape)
    z = model.encode(x)
    x_hat = model.decode(z)
    assert z.shape == (5, 3)
    assert x_hat.shape == x.shape
    assert x_hat.min() >= 0 and x_hat.max() <= 1
    out = model(x)
    assert out.logits.shape == x.shape
    assert torch.allclose(out.z, z)


@pytest.mark.parametrize("latent_dim", [1, 2, 17])
def test_any_latent_size_works(latent_dim):
    model = build_model(ModelConfig(kind="vae", image_shape=(1, 8, 8), latent_dim=latent_dim))
    mu, logvar = model.encode_distribution(torch.rand(4, 1, 8, 8))
    assert mu.shape == logvar.shape == (4, latent_dim)


def test_vae_encode_is_the_posterior_mean_and_forward_samples_only_with_noise():
    model = build_model(ModelConfig(kind="vae", image_shape=(1, 8, 8))).eval()
    x = torch.rand(3, 1, 8, 8)
    mu, logvar = model.encode_distribution(x)
    assert torch.equal(model.encode(x), mu)
    assert torch.equal(model(x).z, mu)
    eps = torch.randn(3, 2)
    assert torch.allclose(model(x, eps).z, mu + torch.exp(0.5 * logvar) * eps)


def test_reparameterization_lets_gradients_reach_mu_and_logvar():
    mu = torch.zeros(2, 2, requires_grad=True)
    logvar = torch.zeros(2, 2, requires_grad=True)
    VAE.reparameterize(mu, logvar, torch.ones(2, 2)).sum().backward()
    assert mu.grad is not None and logvar.grad is not None
    assert torch.all(logvar.grad != 0)


def test_same_seed_gives_the_same_initial_weights_and_another_seed_does_not():
    config = ModelConfig(kind="vae", arch="conv", image_shape=(3, 16, 16), channels=(8, 16))
    a, b, c = build_model(config, seed=3), build_model(config, seed=3), build_model(config, seed=4)
    for (name, wa), wb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(wa, wb), name
    assert not all(
        torch.equal(wa, wc) for wa, wc in zip(a.parameters(), c.parameters(), strict=True)
    )


def test_building_a_model_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_model(ModelConfig(), seed=9)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("kind", ["ae", "vae"])
@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_each_model_overfits_one_batch(kind, arch):
    shape = (1, 16, 16)
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(8, *shape, generator=gen) > 0.5).float()
    model = build_model(default_model_config(shape, kind, arch=arch, latent_dim=8), seed=0)
    before = loss_terms(model(x), x, "bernoulli")["recon"].item()
    result = fit(
        model,
        x.numpy(),
        TrainConfig(epochs=300, batch_size=8, lr=3e-3, beta=0.01, precision="fp32"),
    )
    after = loss_terms(model(x), x, "bernoulli")["recon"].item()
    assert result.status == "finished"
    assert after < 0.1 * before, (before, after)
