"""Shared by the decoder tests: models whose decoders give spread-out, non-trivial images, and
torch's answer for exactly the weights a browser holds."""

from __future__ import annotations

import copy
import dataclasses
import math

import torch
from torch import nn

from training.models import AE, LinearPath
from training.recurrent import RecurrentDecoder, RecurrentEncoder


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


def recurrent(
    model: AE,
    hidden: int,
    cell: type[nn.RNNBase],
    seed: int,
    gain: float = 1.4,
    rows_per_step: int = 1,
) -> AE:
    """model with recurrent coders of cell (reading rows_per_step rows a step) in place of its
    own, their weights drawn from a seeded generator: inputs of each gate spread over several
    units (a little above variance-keeping scale), biases too (0.5), so no gate sits at its
    middle or its ends."""
    arch = "gru" if cell is nn.GRU else "lstm"
    config = model.config = dataclasses.replace(
        model.config, arch=arch, hidden=(hidden,), rows_per_step=rows_per_step
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model.decoder = RecurrentDecoder(config)
        model.encoder = RecurrentEncoder(config, model.n_encoder_out())
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "bias" in name:
                p.copy_(torch.randn(p.shape, generator=generator) * 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=generator) * gain / math.sqrt(p.shape[1]))
    return model.eval()
