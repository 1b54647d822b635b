"""Metrics for a trained model on held-out images, and the PCA baseline beside it."""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from training.data import Dataset
from training.losses import gaussian_log_density, kl_divergence, reconstruction_loss
from training.models import AE, VAE

MAX_FIT_SAMPLES = 20_000  # PCA and the probe are fitted on at most this many training images


def batches(images: np.ndarray, batch_size: int = 2048):
    for i in range(0, len(images), batch_size):
        yield torch.as_tensor(images[i : i + batch_size], dtype=torch.float32)


@torch.inference_mode()
def encode_all(model: AE, images: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """(N, C, H, W) -> codes (N, latent_dim); the posterior mean for a VAE."""
    model.eval()
    return np.concatenate([model.encode(x).numpy() for x in batches(images, batch_size)])


@torch.inference_mode()
def decode_all(model: AE, z: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """codes (N, latent_dim) -> images (N, C, H, W) in [0, 1]."""
    model.eval()
    return np.concatenate([model.decode(c).numpy() for c in batches(z, batch_size)])


@torch.inference_mode()
def reconstruction_mse(model: AE, images: np.ndarray) -> float:
    """Mean squared error per pixel of decode(encode(x)), for x in [0, 1]."""
    model.eval()
    total = sum(((model.decode(model.encode(x)) - x) ** 2).sum().item() for x in batches(images))
    return total / images.size


def binarized(images: np.ndarray, seed: int) -> np.ndarray:
    """One seeded draw of x ~ Bernoulli(pixel): the standard binarized-MNIST protocol."""
    rng = np.random.default_rng(seed)
    return (rng.random(images.shape, dtype=np.float32) < images).astype(np.float32)


def log_likelihood(logits: torch.Tensor, x: torch.Tensor, likelihood: str) -> torch.Tensor:
    """log p(x | z) with its constant: (B, C, H, W) -> (B,)."""
    log_p = -reconstruction_loss(logits, x, likelihood)
    if likelihood == "gaussian":  # N(x; x_hat, I/2) has a normaliser of pi^(-D/2)
        log_p = log_p - 0.5 * x[0].numel() * math.log(math.pi)
    return log_p


@torch.inference_mode()
def negative_elbo(model: VAE, images: np.ndarray, seed: int = 0) -> float:
    """-ELBO = E_q[-log p(x|z)] + KL(q || p) in nats per image (one z sample per image)."""
    model.eval()
    gen, total = torch.Generator().manual_seed(seed), 0.0
    for x in batches(images):
        mu, logvar = model.encode_distribution(x)
        eps = torch.randn(mu.shape, generator=gen)
        logits = model.decode_logits(model.reparameterize(mu, logvar, eps))
        nll = -log_likelihood(logits, x, model.config.likelihood)
        total += (nll + kl_divergence(mu, logvar)).sum().item()
    return total / len(images)


@torch.inference_mode()
def importance_weighted_nll(model: VAE, images: np.ndarray, k: int, seed: int = 0) -> float:
    """-log p(x) estimated with k importance samples from q(z|x), nats per image.

    log p(x) ~ logsumexp_i [log p(x|z_i) + log p(z_i) - log q(z_i|x)] - log k
    (Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", 2016). Tighter than the
    ELBO and converging to the true NLL as k grows.
    """
    model.eval()
    gen, total = torch.Generator().manual_seed(seed), 0.0
    rows = max(1, 16384 // k)  # images per chunk, so that rows * k decodes fit in memory
    for x in batches(images, rows):
        mu, logvar = model.encode_distribution(x)  # (B, K)
        eps = torch.randn((k, *mu.shape), generator=gen)  # (k, B, K)
        z = model.reparameterize(mu, logvar, eps)
        logits = model.decode_logits(z.flatten(0, 1))  # (k*B, C, H, W)
        x_rep = x.expand(k, *x.shape).flatten(0, 1)
        log_px_z = log_likelihood(logits, x_rep, model.config.likelihood).view(k, len(x))
        log_pz = gaussian_log_density(z, torch.zeros_like(z), torch.zeros_like(z))
        log_qz = gaussian_log_density(z, mu, logvar)
        log_w = log_px_z + log_pz - log_qz  # (k, B)
        total -= (torch.logsumexp(log_w, 0) - math.log(k)).sum().item()
    return total / len(images)


def pca_mse(train_images: np.ndarray, test_images: np.ndarray, n_components: int) -> float:
    """Per-pixel MSE of PCA with n_components fitted on train: the linear baseline an AE
    with the same latent size should beat."""
    train = train_images.reshape(len(train_images), -1)[:MAX_FIT_SAMPLES]
    test = test_images.reshape(len(test_images), -1)
    n_components = min(n_components, *train.shape)
    pca = PCA(n_components=n_components, random_state=0).fit(train)
    return float(((pca.inverse_transform(pca.transform(test)) - test) ** 2).mean())


def linear_probe_accuracy(
    train_codes: np.ndarray, train_y: np.ndarray, test_codes: np.ndarray, test_y: np.ndarray
) -> float:
    """Test accuracy of a logistic regression on the codes: the encoder as a feature extractor."""
    if len(np.unique(train_y)) < 2:
        return float("nan")
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    probe.fit(train_codes[:MAX_FIT_SAMPLES], train_y[:MAX_FIT_SAMPLES])
    return float(probe.score(test_codes, test_y))


def probe_targets(dataset: Dataset) -> list[np.ndarray]:
    """What the probe predicts: the class label, else each binary attribute."""
    if dataset.labels is not None:
        return [dataset.labels]
    if dataset.attributes is not None:
        return list(dataset.attributes.T)
    return []


def evaluate(model: AE, dataset: Dataset, iw_samples: int = 0, seed: int = 0) -> dict:
    """All metrics on the dataset's test split (the probe and PCA are fitted on its train split).

    Likelihoods of Bernoulli models are measured on dynamically binarized test images.
    probe_accuracy is the class accuracy, or the mean over attributes when there are no classes.
    """
    train, test = dataset.split()
    metrics: dict = {
        "model": model.config.kind,
        "dataset": dataset.name,
        "latent_dim": model.config.latent_dim,
        "n_test": test.n_samples,
        "recon_mse": reconstruction_mse(model, test.images),
        "pca_mse": pca_mse(train.images, test.images, model.config.latent_dim),
    }
    train_z, test_z = encode_all(model, train.images), encode_all(model, test.images)
    scores = [
        linear_probe_accuracy(train_z, y_train, test_z, y_test)
        for y_train, y_test in zip(probe_targets(train), probe_targets(test), strict=True)
    ]
    metrics["probe_accuracy"] = float(np.nanmean(scores)) if scores else None
    if isinstance(model, VAE):
        x = test.images
        if model.config.likelihood == "bernoulli":
            x = binarized(x, seed)
        metrics["neg_elbo"] = negative_elbo(model, x, seed)
        if iw_samples > 0:
            metrics["nll_iw"] = importance_weighted_nll(model, x, iw_samples, seed)
            metrics["iw_samples"] = iw_samples
    return metrics
