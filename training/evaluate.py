"""Metrics for a trained model on held-out images, and the PCA baseline beside it."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch

from training.data import Dataset
from training.data.dataset import to_float_images
from training.fit import as_float_batch
from training.heap import TRIM_EVERY, release_freed_memory
from training.losses import gaussian_log_density, kl_divergence, reconstruction_loss
from training.models import AE, VAE

if TYPE_CHECKING:  # scikit-learn is imported where used: the app's first page skips a second
    from sklearn.pipeline import Pipeline

MAX_FIT_SAMPLES = 20_000  # PCA and the probe are fitted on at most this many training images
# ... and PCA on at most this many values (256 MiB as float32): all 20,000 for MNIST, 5,461 at
# 64x64 RGB, where 20,000 would add 1 GB of floats to a 200,000-image dataset's 2.5 GB of bytes.
MAX_PCA_VALUES = 2**26
# Values per batch at most: a conv model's activations for 2,048 64x64 RGB images took 0.7 GB.
MAX_BATCH_VALUES = 2**22


def batches(
    images: np.ndarray,
    batch_size: int = 2048,
    indices: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
):
    """float32 tensors of images[indices] (all rows when None), batch_size rows at a time (fewer
    for big images: MAX_BATCH_VALUES); uint8 pixels are scaled to [0, 1] one batch at a time,
    and with rng each batch is binarized (the same draws as binarized(images[indices], rng)).
    Freed memory goes back to the OS every few batches (training.heap)."""
    n = len(images) if indices is None else len(indices)
    batch_size = max(1, min(batch_size, MAX_BATCH_VALUES // math.prod(images.shape[1:])))
    for count, i in enumerate(range(0, n, batch_size), 1):
        rows = slice(i, i + batch_size) if indices is None else indices[i : i + batch_size]
        x = as_float_batch(torch.as_tensor(images[rows]), torch.device("cpu"))
        yield x if rng is None else torch.from_numpy(binarized(x.numpy(), rng))
        if count % TRIM_EVERY == 0:
            release_freed_memory()


@torch.inference_mode()
def encode_all(
    model: AE, images: np.ndarray, batch_size: int = 2048, indices: np.ndarray | None = None
) -> np.ndarray:
    """(N, C, H, W) uint8 or floats in [0, 1] -> codes (N, latent_dim), of images[indices] when
    given; the posterior mean for a VAE."""
    model.eval()
    codes = [model.encode(x).numpy() for x in batches(images, batch_size, indices)]
    return np.concatenate(codes)


@torch.inference_mode()
def decode_all(model: AE, z: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """codes (N, latent_dim) -> images (N, C, H, W) in [0, 1]."""
    model.eval()
    return np.concatenate([model.decode(c).numpy() for c in batches(z, batch_size)])


@torch.inference_mode()
def reconstruction_errors(
    model: AE, images: np.ndarray, indices: np.ndarray | None = None
) -> np.ndarray:
    """(N,) float64: each image's mean squared error per pixel of decode(encode(x)), for
    x = images[indices] in [0, 1] (an anomaly score, explorer/core/anomaly.py)."""
    model.eval()
    errors = [
        ((model.decode(model.encode(x)) - x) ** 2).flatten(1).mean(1).double().numpy()
        for x in batches(images, indices=indices)
    ]
    return np.concatenate(errors)


def reconstruction_mse(model: AE, images: np.ndarray, indices: np.ndarray | None = None) -> float:
    """Mean squared error per pixel of decode(encode(x)), for x = images[indices] in [0, 1]."""
    return float(reconstruction_errors(model, images, indices).mean())


def binarized(images: np.ndarray, seed: int | np.random.Generator) -> np.ndarray:
    """One seeded draw of x ~ Bernoulli(pixel) (uint8 pixels or floats in [0, 1]) as float32:
    the standard binarized-MNIST protocol."""
    rng = np.random.default_rng(seed)
    x = to_float_images(images) if images.dtype == np.uint8 else images
    return (rng.random(x.shape, dtype=np.float32) < x).astype(np.float32)


def log_likelihood(logits: torch.Tensor, x: torch.Tensor, likelihood: str) -> torch.Tensor:
    """log p(x | z) with its constant: (B, C, H, W) -> (B,)."""
    log_p = -reconstruction_loss(logits, x, likelihood)
    if likelihood == "gaussian":  # N(x; x_hat, I/2) has a normaliser of pi^(-D/2)
        log_p = log_p - 0.5 * x[0].numel() * math.log(math.pi)
    return log_p


@torch.inference_mode()
def negative_elbos(
    model: VAE,
    images: np.ndarray,
    seed: int = 0,
    indices: np.ndarray | None = None,
    binarize: bool = False,
) -> np.ndarray:
    """(N,) float64: each image's -ELBO = E_q[-log p(x|z)] + KL(q || p) in nats (one z sample
    per image), of images[indices], binarized with seed first when asked (as binarized(x, seed)
    would)."""
    model.eval()
    gen, parts = torch.Generator().manual_seed(seed), []
    rng = np.random.default_rng(seed) if binarize else None
    for x in batches(images, indices=indices, rng=rng):
        mu, logvar = model.encode_distribution(x)
        eps = torch.randn(mu.shape, generator=gen)
        logits = model.decode_logits(model.reparameterize(mu, logvar, eps))
        nll = -log_likelihood(logits, x, model.config.likelihood)
        parts.append((nll + kl_divergence(mu, logvar)).double().numpy())
    return np.concatenate(parts)


def negative_elbo(
    model: VAE,
    images: np.ndarray,
    seed: int = 0,
    indices: np.ndarray | None = None,
    binarize: bool = False,
) -> float:
    """-ELBO in nats per image, the mean of negative_elbos (same arguments)."""
    return float(negative_elbos(model, images, seed, indices, binarize).mean())


@torch.inference_mode()
def importance_weighted_nll(
    model: VAE,
    images: np.ndarray,
    k: int,
    seed: int = 0,
    indices: np.ndarray | None = None,
    binarize: bool = False,
) -> float:
    """-log p(x) estimated with k importance samples from q(z|x), nats per image, of
    images[indices], binarized with seed first when asked (as negative_elbo).

    log p(x) ~ logsumexp_i [log p(x|z_i) + log p(z_i) - log q(z_i|x)] - log k
    (Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", 2016). Tighter than the
    ELBO and converging to the true NLL as k grows.
    """
    model.eval()
    gen, total = torch.Generator().manual_seed(seed), 0.0
    rng = np.random.default_rng(seed) if binarize else None
    # Images per chunk, so that rows * k decodes fit in memory: 16,384 decodes of MNIST's size,
    # fewer of bigger images (1,365 at 64x64 RGB, 0.2 GB of output).
    decodes = min(16384, 2**24 // math.prod(images.shape[1:]))
    rows = max(1, decodes // k)
    for x in batches(images, rows, indices, rng):
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
    return total / (len(images) if indices is None else len(indices))


def pca_mse(
    train_images: np.ndarray,
    test_images: np.ndarray,
    n_components: int,
    train_indices: np.ndarray | None = None,
    test_indices: np.ndarray | None = None,
) -> float:
    """Per-pixel MSE of PCA with n_components fitted on train (uint8 or floats in [0, 1]; the
    rows train_indices / test_indices when given): the linear baseline an AE with the same
    latent size should beat. Fitted on the first rows, at most MAX_FIT_SAMPLES of them and
    MAX_PCA_VALUES values."""
    from sklearn.decomposition import PCA

    size = math.prod(train_images.shape[1:])
    rows = np.arange(len(train_images)) if train_indices is None else train_indices
    rows = rows[: max(1, min(MAX_FIT_SAMPLES, MAX_PCA_VALUES // size))]
    train = train_images[rows].reshape(len(rows), -1)  # a copy: PCA may centre it in place
    train = to_float_images(train) if train.dtype == np.uint8 else train.astype(np.float32)
    n_components = min(n_components, *train.shape)
    # copy=False: PCA centres our float copy in place instead of making a second one.
    pca = PCA(n_components=n_components, random_state=0, copy=False).fit(train)
    del train
    total = 0.0
    for x in batches(test_images, indices=test_indices):
        flat = x.numpy().reshape(len(x), -1)
        total += float(((pca.inverse_transform(pca.transform(flat)) - flat) ** 2).sum())
    n_test = len(test_images) if test_indices is None else len(test_indices)
    return total / (n_test * size)


def linear_probe_accuracy(
    train_codes: np.ndarray, train_y: np.ndarray, test_codes: np.ndarray, test_y: np.ndarray
) -> float:
    """Test accuracy of a logistic regression on the codes: the encoder as a feature extractor."""
    if len(np.unique(train_y)) < 2:
        return float("nan")
    return float(fit_linear_probe(train_codes, train_y).score(test_codes, test_y))


def fit_linear_probe(train_codes: np.ndarray, train_y: np.ndarray) -> Pipeline:
    """A logistic regression on standardised codes (N, K) for labels (N,), fitted on the first
    MAX_FIT_SAMPLES rows; needs two classes or more."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    return probe.fit(train_codes[:MAX_FIT_SAMPLES], train_y[:MAX_FIT_SAMPLES])


def probe_targets(dataset: Dataset) -> list[np.ndarray]:
    """What the probe predicts: the class label, else each binary attribute."""
    if dataset.labels is not None:
        return [dataset.labels]
    if dataset.attributes is not None:
        return list(dataset.attributes.T)
    return []


def evaluate(
    model: AE,
    dataset: Dataset,
    iw_samples: int = 0,
    seed: int = 0,
    pca_baseline: float | None = None,
) -> dict:
    """All metrics on the dataset's test split (the probe and PCA are fitted on its train split).

    pca_baseline: PCA's test MSE at this latent size when already known (a pair shares one).

    Likelihoods of Bernoulli models are measured on dynamically binarized test images.
    probe_accuracy is the class accuracy, or the mean over attributes when there are no classes.
    The splits are read through their indices, a batch at a time: nothing is copied whole.
    """
    x, test = dataset.pixels, dataset.test_indices
    train = dataset.train_indices[:MAX_FIT_SAMPLES]  # all that the probe is fitted on
    latent_dim = model.config.latent_dim
    metrics: dict = {
        "model": model.config.kind,
        "dataset": dataset.name,
        "latent_dim": latent_dim,
        "n_test": len(test),
        "recon_mse": reconstruction_mse(model, x, test),
        "pca_mse": pca_mse(x, x, latent_dim, train_indices=train, test_indices=test)
        if pca_baseline is None
        else pca_baseline,
    }
    train_z, test_z = encode_all(model, x, indices=train), encode_all(model, x, indices=test)
    scores = [
        linear_probe_accuracy(train_z, y[train], test_z, y[test]) for y in probe_targets(dataset)
    ]
    metrics["probe_accuracy"] = float(np.nanmean(scores)) if scores else None
    if isinstance(model, VAE):
        binarize = model.config.likelihood == "bernoulli"
        metrics["neg_elbo"] = negative_elbo(model, x, seed, test, binarize)
        if iw_samples > 0:
            metrics["nll_iw"] = importance_weighted_nll(model, x, iw_samples, seed, test, binarize)
            metrics["iw_samples"] = iw_samples
    return metrics
