"""Shared by the decoder tests: models whose decoders give spread-out, non-trivial images, and
torch's answer for exactly the weights a browser holds."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from training.models import AE, LinearPath


def spread(model: AE, seed: int, gain: float = 1.4, coder: str = "decoder") -> AE:
    """Redraw the coder's ("decoder" or "encoder") weights from a seeded generator, a little
    above variance-keeping scale: outputs spread over [0, 1] (some saturated, most not), ReLUs
    half open, and no layer left at zero (the residual coders' last layers start there)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in getattr(model, coder).modules():
            if isinstance(layer, nn.Linear):
                fan_in = layer.in_features
            elif isinstance(layer, nn.ConvTranspose2d):
                # each output pixel sums in * (k / stride)^2 inputs
                fan_in = layer.in_channels * (layer.kernel_size[0] / layer.stride[0]) ** 2
            elif isinstance(layer, nn.Conv2d):
                fan_in = layer.in_channels * layer.kernel_size[0] ** 2
            else:
                continue
            w, b = layer.weight, layer.bias
            w.copy_(torch.randn(w.shape, generator=generator) * gain / math.sqrt(fan_in))
            b.copy_(torch.randn(b.shape, generator=generator) * 0.1)
    return model.eval()


def rounded(model: AE, dtype: str) -> AE:
    """A copy of model whose weights went through dtype and back: torch's answer for exactly
    the weights the browser holds (the oracle for the browser's arithmetic)."""
    twin = copy.deepcopy(model)
    as_sent = getattr(torch, dtype)
    with torch.no_grad():
        for p in twin.parameters():
            p.copy_(p.to(as_sent).to(p.dtype))
        path = getattr(twin.decoder, "linear", None)
        if isinstance(path, LinearPath):  # sent as one matrix, basis * scale, and the mean
            path.basis.mul_(path.scale[:, None]).copy_(path.basis.to(as_sent).float())
            path.scale.fill_(1.0)
            path.mean.copy_(path.mean.to(as_sent).float())
        path = getattr(twin.encoder, "linear", None)
        if isinstance(path, LinearPath):  # sent as they are: basis, mean and scale
            for buffer in (path.basis, path.mean, path.scale):
                buffer.copy_(buffer.to(as_sent).float())
    return twin


# ---- stand-ins for training/models.py's recurrent coders (issue 23), attribute for attribute ----


class RecurrentDecoder(nn.Module):
    """(B, latent) -> (B, C, H, W) logits: h0 = tanh(start(z)) (LSTM: c0 = 0), z the input at
    each of the H steps, each step's state through out as one row (C * W logits)."""

    def __init__(self, latent_dim: int, image_shape, hidden: int, cell: type[nn.RNNBase]):
        super().__init__()
        self.image_shape = tuple(image_shape)
        c, _, w = self.image_shape
        self.start = nn.Linear(latent_dim, hidden)
        self.rnn = cell(latent_dim, hidden, batch_first=True)
        self.out = nn.Linear(hidden, c * w)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        c, h, w = self.image_shape
        h0 = torch.tanh(self.start(z)).unsqueeze(0)
        state = h0 if isinstance(self.rnn, nn.GRU) else (h0, torch.zeros_like(h0))
        steps, _ = self.rnn(z.unsqueeze(1).expand(-1, h, -1), state)
        return self.out(steps).reshape(-1, h, c, w).permute(0, 2, 1, 3)


class RecurrentEncoder(nn.Module):
    """(B, C, H, W) -> (B, n_out): the rows as H steps of C * W values, the last state through
    head."""

    def __init__(self, image_shape, hidden: int, n_out: int, cell: type[nn.RNNBase]):
        super().__init__()
        c, _, w = image_shape
        self.rnn = cell(c * w, hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        steps, _ = self.rnn(x.permute(0, 2, 1, 3).reshape(b, h, c * w))
        return self.head(steps[:, -1])


def recurrent(model: AE, hidden: int, cell: type[nn.RNNBase], seed: int, gain: float = 1.4) -> AE:
    """model with recurrent coders of cell in place of its own, their weights drawn from a
    seeded generator: inputs of each gate spread over several units (a little above
    variance-keeping scale), biases too (0.5), so no gate sits at its middle or its ends."""
    config = model.config
    n_out = model.n_encoder_out()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model.decoder = RecurrentDecoder(config.latent_dim, config.image_shape, hidden, cell)
        model.encoder = RecurrentEncoder(config.image_shape, hidden, n_out, cell)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "bias" in name:
                p.copy_(torch.randn(p.shape, generator=generator) * 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=generator) * gain / math.sqrt(p.shape[1]))
    return model.eval()
