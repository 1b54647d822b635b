"""Loss terms as pure functions. Each returns one value per image so callers can average,
sum or plot the terms separately."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from training.models import ModelOutput


def reconstruction_loss(logits: torch.Tensor, x: torch.Tensor, likelihood: str) -> torch.Tensor:
    """-log p(x | z) up to a constant, summed over pixels: (B, C, H, W) -> (B,).

    bernoulli: binary cross-entropy of sigmoid(logits) against x in [0, 1] (exact -log p for
               binary x; the standard choice for MNIST).
    gaussian:  squared error of sigmoid(logits), i.e. -log N(x; x_hat, I/2) minus its constant.
    calibrated: -log N(x; x_hat, sigma^2 I) with its constant, sigma^2 set to its optimum, the
               batch's mean squared error per pixel (the "optimal sigma" VAE of Rybkin, Daniilidis
               and Levine, "Simple and Effective VAE Training with Calibrated Decoders", 2021).
               A fixed variance weighs the KL term against a blur the data does not have; the
               calibrated one weighs it against the error the decoder actually makes, so the VAE
               stops trading sharpness for KL.
    """
    if likelihood == "bernoulli":
        per_pixel = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    elif likelihood == "gaussian":
        per_pixel = (torch.sigmoid(logits) - x).square()
    elif likelihood == "calibrated":
        return calibrated_gaussian_nll((torch.sigmoid(logits) - x).square().flatten(1))
    else:
        raise ValueError(f"likelihood: unknown {likelihood!r}")
    return per_pixel.flatten(1).sum(1)


MIN_VARIANCE = 1e-6  # a perfect batch would give sigma = 0 and an infinite likelihood


def calibrated_gaussian_nll(squared_error: torch.Tensor) -> torch.Tensor:
    """(B, D) squared errors -> (B,) -log N(x; x_hat, sigma^2) summed over the D pixels, with
    sigma^2 = mean(squared_error) over the batch, held constant for the gradient (its own
    gradient is zero at the optimum)."""
    variance = squared_error.mean().detach().clamp_min(MIN_VARIANCE)
    n_pixels = squared_error.shape[1]
    constant = 0.5 * n_pixels * torch.log(2 * math.pi * variance)
    return squared_error.sum(1) / (2 * variance) + constant


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) in nats: (B, K) -> (B,).

    Closed form from Kingma & Welling, "Auto-Encoding Variational Bayes" (2014), appendix B:
    -1/2 * sum(1 + logvar - mu^2 - exp(logvar)).
    """
    return -0.5 * (1 + logvar - mu.square() - logvar.exp()).sum(1)


def sparsity_penalty(z: torch.Tensor) -> torch.Tensor:
    """L1 norm of the code, (B, K) -> (B,): pushes a sparse AE towards few active units."""
    return z.abs().sum(1)


def loss_terms(
    out: ModelOutput,
    target: torch.Tensor,
    likelihood: str,
    beta: float = 1.0,
    sparsity: float = 0.0,
) -> dict[str, torch.Tensor]:
    """Batch means of each term and their weighted total (the quantity to minimise).

    recon + beta * kl (the negative ELBO when beta = 1) + sparsity * |z|_1.
    """
    terms = {"recon": reconstruction_loss(out.logits, target, likelihood).mean()}
    if out.logvar is not None:
        terms["kl"] = kl_divergence(out.mu, out.logvar).mean()
    if sparsity > 0:
        terms["l1"] = sparsity_penalty(out.z).mean()
    total = terms["recon"] + beta * terms.get("kl", 0.0) + sparsity * terms.get("l1", 0.0)
    return {**terms, "total": total}


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag(exp(logvar))) summed over the last dimension: (..., K) -> (...)."""
    return -0.5 * (math.log(2 * math.pi) + logvar + (z - mu).square() / logvar.exp()).sum(-1)
