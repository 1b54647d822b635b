"""AE and VAE built from one encoder/decoder pair, behind one model contract.

Every model offers encode(x) -> z (the mean for a VAE), decode(z) -> x_hat in [0, 1] and
forward(x) -> ModelOutput, so callers never branch on the model class.
"""

from __future__ import annotations

import math
import threading
from typing import NamedTuple

import torch
from torch import nn

from training.config import RECURRENT_ARCHS, ModelConfig
from training.recurrent import RecurrentDecoder, RecurrentEncoder

_SEED_LOCK = threading.Lock()


class ModelOutput(NamedTuple):
    logits: torch.Tensor  # (B, C, H, W) pre-sigmoid decoder output
    z: torch.Tensor  # (B, latent_dim) the code that was decoded
    mu: torch.Tensor  # (B, latent_dim) posterior mean (= z for an AE)
    logvar: torch.Tensor | None  # (B, latent_dim) posterior log-variance, None for an AE


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def conv_feature_sizes(height: int, width: int, n_layers: int) -> list[tuple[int, int]]:
    """Spatial sizes after each stride-2 conv (kernel 4, padding 1 halves, rounding down)."""
    sizes = [(height, width)]
    for _ in range(n_layers):
        h, w = sizes[-1]
        sizes.append((h // 2, w // 2))
    return sizes


class MLPCoder(nn.Module):
    """Encoder image -> (B, n_out) or decoder (B, latent) -> image logits, as an MLP."""

    def __init__(self, config: ModelConfig, n_out: int, decoder: bool):
        super().__init__()
        n_pixels = math.prod(config.image_shape)
        sizes = [n_pixels, *config.hidden, n_out]
        if decoder:
            sizes = [config.latent_dim, *reversed(config.hidden), n_pixels]
        self.net = mlp(sizes)
        self.image_shape = config.image_shape
        self.decoder = decoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.decoder:
            return self.net(x).view(-1, *self.image_shape)
        return self.net(x.flatten(1))


class ConvEncoder(nn.Module):
    """(B, C, H, W) -> (B, n_out): stride-2 convs, then one linear layer."""

    def __init__(self, config: ModelConfig, n_out: int):
        super().__init__()
        c, h, w = config.image_shape
        layers: list[nn.Module] = []
        for c_in, c_out in zip((c, *config.channels[:-1]), config.channels, strict=True):
            layers += [nn.Conv2d(c_in, c_out, kernel_size=4, stride=2, padding=1), nn.ReLU()]
        h_last, w_last = conv_feature_sizes(h, w, len(config.channels))[-1]
        self.convs = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(config.channels[-1] * h_last * w_last, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.convs(x))


class ConvDecoder(nn.Module):
    """(B, latent) -> (B, C, H, W) logits: one linear layer, then transposed convs that mirror
    the encoder, with output_padding restoring odd sizes (e.g. 7 -> 3 -> 7)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        c, h, w = config.image_shape
        sizes = conv_feature_sizes(h, w, len(config.channels))
        channels = list(reversed(config.channels))
        self.first_shape = (channels[0], *sizes[-1])
        self.head = nn.Linear(config.latent_dim, math.prod(self.first_shape))
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip(channels, [*channels[1:], c], strict=True)):
            (h_in, w_in), (h_out, w_out) = sizes[-1 - i], sizes[-2 - i]
            pad = (h_out - 2 * h_in, w_out - 2 * w_in)
            layers.append(
                nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, output_padding=pad)
            )
            if i < len(channels) - 1:
                layers.append(nn.ReLU())
        self.deconvs = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconvs(torch.relu(self.head(z)).view(-1, *self.first_shape))


LOGIT_CLIP = 0.02  # pixels are clipped to [0.02, 0.98] before the logit: 0 and 1 are infinite
LINEAR_FIT_SAMPLES = 4096  # images the linear path's PCA is fitted on


def pixel_logits(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) in [0, 1] -> (B, C*H*W) logits: the space the decoder's sigmoid inverts."""
    return torch.logit(x.clamp(LOGIT_CLIP, 1 - LOGIT_CLIP)).flatten(1)


class LinearPath(nn.Module):
    """PCA of the images' pixel logits with whitened codes: encode is (logits - mean) projected
    on the top latent_dim components, divided by their spread (so codes have unit variance, as
    a VAE's prior wants); decode maps codes back. Buffers, not parameters: fitted from data
    once (fit), saved with the model, never trained."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        n_pixels, k = math.prod(config.image_shape), config.latent_dim
        self.register_buffer("mean", torch.zeros(n_pixels))
        self.register_buffer("basis", torch.zeros(k, n_pixels))
        self.register_buffer("scale", torch.ones(k))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def fit(self, images: torch.Tensor, seed: int = 0) -> None:
        """Top components of images (N, C, H, W), uint8 pixels or floats in [0, 1], by
        randomized SVD (seeded)."""
        # one float copy of the images, made logits and centred in place: on 64x64 colour
        # images each copy of 4,096 of them is 200 MB, and this runs before training starts
        x = images.flatten(1).to(torch.float32, copy=True)
        x = x.div_(255) if images.dtype == torch.uint8 else x
        logits = x.clamp_(LOGIT_CLIP, 1 - LOGIT_CLIP).logit_()
        mean = logits.mean(0)
        centred = logits.sub_(mean)
        k = self.basis.shape[0]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            _, singular, v = torch.svd_lowrank(centred, q=min(k + 16, *centred.shape), niter=6)
        n = min(k, v.shape[1])  # fewer images than components: the rest stay zero
        self.mean.copy_(mean)
        self.basis.zero_()[:n] = v[:, :n].T
        spread = singular[:n] / math.sqrt(max(len(centred) - 1, 1))  # each code's std
        self.scale.fill_(1.0)[:n] = spread.clamp_min(1e-6)
        self.fitted.fill_(True)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return (pixel_logits(x) - self.mean) @ self.basis.T / self.scale

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.mean + (z * self.scale) @ self.basis


def zero_last_layer(net: nn.Sequential) -> nn.Sequential:
    """A residual branch that starts at zero, so the coder starts as its linear path."""
    nn.init.zeros_(net[-1].weight)
    nn.init.zeros_(net[-1].bias)
    return net


class ResidualEncoder(nn.Module):
    """(B, C, H, W) -> (B, n_out): the linear path's PCA codes plus an MLP's correction. For a
    VAE (n_out = 2 * latent_dim) the second half, the log-variance, is the MLP's alone."""

    def __init__(self, config: ModelConfig, n_out: int):
        super().__init__()
        self.linear = LinearPath(config)
        self.net = zero_last_layer(mlp([math.prod(config.image_shape), *config.hidden, n_out]))
        if n_out > config.latent_dim:  # VAE: start nearly deterministic (sigma 0.1), like PCA
            nn.init.constant_(self.net[-1].bias[config.latent_dim :], 2 * math.log(0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x.flatten(1))
        k = self.linear.basis.shape[0]
        return torch.cat([out[:, :k] + self.linear.encode(x), out[:, k:]], dim=1)


class ResidualDecoder(nn.Module):
    """(B, latent) -> (B, C, H, W) logits: the linear path's PCA reconstruction (in logits)
    plus an MLP's correction, which learns what PCA misses."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.linear = LinearPath(config)
        n_pixels = math.prod(config.image_shape)
        self.net = zero_last_layer(mlp([config.latent_dim, *reversed(config.hidden), n_pixels]))
        self.image_shape = config.image_shape

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (self.linear.decode(z) + self.net(z)).view(-1, *self.image_shape)


def build_coders(config: ModelConfig, n_encoder_out: int) -> tuple[nn.Module, nn.Module]:
    if config.arch == "mlp":
        return MLPCoder(config, n_encoder_out, decoder=False), MLPCoder(config, 0, decoder=True)
    if config.arch == "residual":
        return ResidualEncoder(config, n_encoder_out), ResidualDecoder(config)
    if config.arch in RECURRENT_ARCHS:
        return RecurrentEncoder(config, n_encoder_out), RecurrentDecoder(config)
    return ConvEncoder(config, n_encoder_out), ConvDecoder(config)


class AE(nn.Module):
    """Deterministic autoencoder: z = encoder(x), x_hat = sigmoid(decoder(z))."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.encoder, self.decoder = build_coders(config, self.n_encoder_out())

    def n_encoder_out(self) -> int:
        return self.config.latent_dim

    def needs_preparing(self) -> bool:
        """True until the residual coders' linear path is fitted; other models never need it."""
        return isinstance(self.encoder, ResidualEncoder) and not self.encoder.linear.fitted

    def prepare(self, images: torch.Tensor, seed: int = 0) -> None:
        """Fit what is fitted from data before training, once: the residual coders' linear
        path (one PCA of images, uint8 or floats in [0, 1], copied to the encoder and the
        decoder). Other models have nothing."""
        if self.needs_preparing():
            self.encoder.linear.fit(images, seed)
            self.decoder.linear.load_state_dict(self.encoder.linear.state_dict())

    def prepare_like(self, other: AE) -> None:
        """Take the preparation of other, a model of the same architecture and latent size
        fitted on the same images: a pair shares one PCA instead of fitting two."""
        if self.needs_preparing() and not other.needs_preparing():
            fitted = other.encoder.linear.state_dict()
            self.encoder.linear.load_state_dict(fitted)
            self.decoder.linear.load_state_dict(fitted)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] -> (B, latent_dim)."""
        return self.encoder(x)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """(B, latent_dim) -> (B, C, H, W) logits (the losses want these, for stability)."""
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, latent_dim) -> (B, C, H, W) in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x: torch.Tensor, eps: torch.Tensor | None = None) -> ModelOutput:
        z = self.encode(x)
        return ModelOutput(self.decode_logits(z), z, z, None)


class VAE(AE):
    """Variational autoencoder (Kingma & Welling, 2014): q(z|x) = N(mu, diag(exp(logvar)))."""

    def n_encoder_out(self) -> int:
        return 2 * self.config.latent_dim

    def encode_distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, C, H, W) -> mu, logvar, each (B, latent_dim)."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior mean: the code the explorer plots."""
        return self.encode_distribution(x)[0]

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """z = mu + sigma * eps with eps ~ N(0, I): sampling that gradients can flow through."""
        return mu + torch.exp(0.5 * logvar) * eps

    def forward(self, x: torch.Tensor, eps: torch.Tensor | None = None) -> ModelOutput:
        """Samples z when eps is given (training), else decodes the mean (inference)."""
        mu, logvar = self.encode_distribution(x)
        z = mu if eps is None else self.reparameterize(mu, logvar, eps)
        return ModelOutput(self.decode_logits(z), z, mu, logvar)


def build_model(config: ModelConfig, seed: int = 0) -> AE:
    """A fresh AE or VAE whose initial weights depend only on config and seed."""
    cls = VAE if config.kind == "vae" else AE
    # torch initialises layers from its global generator: fork it so the seed stays local,
    # and lock so two threads building models at once cannot interleave their draws.
    with _SEED_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(config)
