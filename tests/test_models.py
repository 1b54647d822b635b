import math

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from training.checkpoints import load_checkpoint, save_checkpoint
from training.config import ModelConfig, TrainConfig
from training.fit import fit
from training.losses import loss_terms
from training.models import AE, VAE, build_model, pixel_logits
from training.presets import default_model_config

SHAPES = [(1, 8, 8), (1, 28, 28), (3, 64, 64), (3, 21, 35)]


@pytest.mark.parametrize("kind", ["ae", "vae"])
@pytest.mark.parametrize("arch", ["mlp", "conv", "residual", "gru", "lstm"])
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
@pytest.mark.parametrize("arch", ["mlp", "conv", "residual"])
def test_each_model_overfits_one_batch(kind, arch):
    shape = (1, 16, 16)
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(8, *shape, generator=gen) > 0.5).float()
    config = default_model_config(shape, kind, arch=arch, latent_dim=8, likelihood="bernoulli")
    model = build_model(config, seed=0)
    before = loss_terms(model(x), x, "bernoulli")["recon"].item()
    result = fit(
        model,
        x.numpy(),
        TrainConfig(epochs=300, batch_size=8, lr=3e-3, beta=0.01, precision="fp32"),
    )
    after = loss_terms(model(x), x, "bernoulli")["recon"].item()
    assert result.status == "finished"
    assert after < 0.1 * before, (before, after)


# ---- the residual coders: PCA of the pixel logits plus an MLP ----


def residual(kind: str = "ae", latent_dim: int = 5, hidden=(16,)) -> AE:
    config = ModelConfig(
        kind=kind, arch="residual", image_shape=(3, 12, 12), latent_dim=latent_dim, hidden=hidden
    )
    return build_model(config, seed=0)


def structured_images(n: int = 300, shape=(3, 12, 12)) -> torch.Tensor:
    """Images on a curved 3-D manifold (each pixel a sine of the factors), a little noise:
    PCA finds its linear part, and a nonlinear model can do better."""
    gen = torch.Generator().manual_seed(0)
    factors = torch.rand(n, 3, generator=gen) * 2 - 1
    frequencies = torch.randn(3, math.prod(shape), generator=gen) * 2
    clean = 0.5 + 0.4 * torch.sin(factors @ frequencies)
    return (clean + 0.01 * torch.randn(clean.shape, generator=gen)).clamp(0, 1).view(n, *shape)


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_a_prepared_residual_model_starts_as_pca_of_the_pixel_logits(kind):
    x = structured_images()
    model = residual(kind)
    model.prepare(x)
    logits = pixel_logits(x).double().numpy()
    pca = PCA(5).fit(logits)  # the oracle: exact PCA of the same logits
    expected = 1 / (1 + np.exp(-pca.inverse_transform(pca.transform(logits))))
    with torch.no_grad():
        x_hat = model.decode(model.encode(x)).flatten(1).numpy()
    # a randomized SVD: the same subspace, to within a little of exact PCA's error
    pixels = x.flatten(1).numpy()
    assert ((x_hat - pixels) ** 2).mean() <= 1.01 * ((expected - pixels) ** 2).mean()
    assert np.abs(x_hat - expected).max() < 0.01
    codes = model.encode(x).detach()
    assert torch.allclose(codes.std(0), torch.ones(5), atol=1e-3)  # whitened: the prior's scale
    if kind == "vae":  # nearly deterministic at first: sigma 0.1
        _, logvar = model.encode_distribution(x)
        assert torch.allclose(logvar, torch.full_like(logvar, 2 * math.log(0.1)))


def test_prepare_fits_once_and_the_fit_survives_a_checkpoint(tmp_path):
    model = residual("vae")
    model.prepare(structured_images())
    fitted = {k: v.clone() for k, v in model.state_dict().items()}
    model.prepare(torch.rand(50, 3, 12, 12))  # a second call (more training) changes nothing
    for name, value in model.state_dict().items():
        assert torch.equal(value, fitted[name]), name
    assert torch.equal(model.encoder.linear.basis, model.decoder.linear.basis)
    loaded = load_checkpoint(save_checkpoint(tmp_path / "vae.safetensors", model)).model
    for name, value in loaded.state_dict().items():
        assert torch.equal(value, fitted[name]), name


def test_uint8_pixels_prepare_the_same_pca_as_their_floats():
    pixels = (structured_images() * 255).round().to(torch.uint8)
    from_bytes, from_floats = residual(), residual()
    from_bytes.prepare(pixels)
    from_floats.prepare(pixels.float() / 255)
    for name, value in from_bytes.encoder.linear.state_dict().items():
        assert torch.allclose(value, from_floats.encoder.linear.state_dict()[name], atol=1e-5)


def test_a_model_prepared_like_another_takes_its_pca_and_keeps_its_own_weights():
    ae, vae = residual("ae"), residual("vae")
    ae.prepare(structured_images())
    mlp_before = {k: v.clone() for k, v in vae.encoder.net.state_dict().items()}
    vae.prepare_like(ae)
    assert not vae.needs_preparing()
    for coder in (vae.encoder, vae.decoder):
        for name, value in coder.linear.state_dict().items():
            assert torch.equal(value, ae.encoder.linear.state_dict()[name]), name
    for name, value in vae.encoder.net.state_dict().items():
        assert torch.equal(value, mlp_before[name]), name
    fitted = vae.encoder.linear.basis.clone()
    other = residual("ae")
    other.prepare(torch.rand(50, 3, 12, 12))
    vae.prepare_like(other)  # already prepared: nothing changes
    assert torch.equal(vae.encoder.linear.basis, fitted)


def test_fewer_images_than_components_leave_the_rest_of_the_basis_zero():
    model = residual(latent_dim=5)
    model.prepare(structured_images(n=3))
    assert torch.isfinite(model.encode(structured_images(n=4))).all()
    assert torch.equal(model.encoder.linear.basis[3:], torch.zeros(2, 3 * 12 * 12))


def test_training_a_residual_model_beats_its_start():
    x = structured_images(n=600)
    model = residual(hidden=(64,))
    model.prepare(x)
    with torch.no_grad():
        before = ((model.decode(model.encode(x)) - x) ** 2).mean().item()
    config = TrainConfig(epochs=60, batch_size=64, lr=3e-3, precision="fp32", schedule="onecycle")
    fit(model, x, config)
    with torch.no_grad():
        after = ((model.decode(model.encode(x)) - x) ** 2).mean().item()
    assert after < 0.6 * before  # measured: 0.45
