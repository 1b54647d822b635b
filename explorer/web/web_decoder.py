"""The decoders (and, on request, the encoders) of a model pair as one byte string that the
browser's JavaScript runs (explorer/web/decoder.js): layers as plain ops, weights packed after a
JSON header.

Layout: b"LXD1", a little-endian uint32 header length, the UTF-8 JSON header, zero padding to
a multiple of 4, then every weight array back to back in the header's dtype. The header lists,
per model kind, the ops in order, each array as [offset, count] in elements of that dtype:

    {"op": "linear", "in": 2, "out": 512, "weight": [0, 1024], "bias": [1024, 512]}
    {"op": "relu"}  {"op": "sigmoid"}  {"op": "clip"}  {"op": "reshape", "shape": [C, H, W]}
    {"op": "add_linear", ...as linear}: adds weight @ z + bias, z the latent point decoded
    {"op": "conv_transpose", "in": 64, "out": 32, "kernel": 4, "stride": 2, "padding": 1,
     "output_padding": [0, 0], "weight": [...], "bias": [...]}

A recurrent decoder (a GRU or LSTM writing F = rows_per_step image rows per step) is a linear
layer and tanh (the initial state), then its cell, then every step's state through one linear
layer:

    {"op": "tanh"}
    {"op": "gru" | "lstm", "in": latent_dim, "hidden": 256, "steps": H / F, "inputs": "latent",
     "weight_ih", "weight_hh", "bias_ih", "bias_hh"}: torch's weights, PyTorch's gate order
    {"op": "linear_rows", "in": 256, "out": F * C * W, "shape": [C, H, W], "weight", "bias"}

With encoders, each model also holds "encoder": {"ops": [...]}, run on its image (C, H, W) in
[0, 1] to its code (the AE's z, the VAE's mean mu: only those rows of the last layer are sent):

    {"op": "flatten"}
    {"op": "conv2d", "in": 1, "out": 16, "kernel": 4, "stride": 2, "padding": 1, "weight", "bias"}
    {"op": "add_pca", "in": pixels, "out": k, "clip": 0.02, "weight": basis (k, pixels), "mean",
     "scale"}: adds (logit(clip(image)) - mean) @ basis.T / scale, the residual encoder's PCA
     path, computed from the image itself
    {"op": "gru" | "lstm", "in": F * C * W, ..., "inputs": "rows"}: the image's rows, F per
     step, as the steps, the last state out (a recurrent encoder; its linear head follows)

A reader that knows no encoders decodes such a bundle as before (same magic, same ops).

The header's "id" (a hash of the weights) names the bundle to the page. Weights are sent once
per pair (Streamlit re-sends an unchanged large element as a hash), so the bundle is built once
per pair and kept with it (pair_bundle).
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from training.models import (
    AE,
    LOGIT_CLIP,
    ConvDecoder,
    ConvEncoder,
    LinearPath,
    MLPCoder,
    ResidualDecoder,
    ResidualEncoder,
)
from training.recurrent import RecurrentDecoder, RecurrentEncoder

if TYPE_CHECKING:  # any object with components_ and mean_ (explorer.core.pca's or sklearn's)
    from explorer.core.model_pair import ModelPair
    from explorer.core.pca import PCA

MAGIC = b"LXD1"
DTYPES = {"float16": np.float16, "float32": np.float32}
# Every student's browser receives the weights: past this the page would load too slowly and
# decode too slowly to follow the mouse, and the server decodes instead.
MAX_PARAMETERS = 4_000_000
# float32 up to this many weights (6 MB): the browser then decodes what the server would, to
# 1e-6. Above, float16 halves the bytes for an error of at most about one grey level (1.7e-3
# measured on the default digits AE; docs/design.md, Design notes).
FLOAT32_UP_TO = 1_500_000
# Multiply-adds per decoded image: the 32-D faces conv decoder needs 7.1 M and takes about 12 ms
# in plain JavaScript here; 20 M keeps one image near a frame's budget of a 30 fps hover.
MAX_MULTIPLY_ADDS = 20_000_000


class Unsupported(ValueError):
    """This model cannot run in the browser; the message says why, in words for the page."""


def bundle(
    models: dict[str, AE],
    dtype: str | None = None,
    pca: PCA | None = None,
    encoders: bool = False,
) -> bytes:
    """The decoders of models ({"ae": AE, "vae": VAE}) as one bundle, plus PCA of the images
    as a linear decoder "pca" when given, plus each model's encoder when encoders is True;
    raises Unsupported. dtype None: float32 up to FLOAT32_UP_TO weights (encoders included),
    else float16."""
    if dtype not in (None, *DTYPES):
        raise ValueError(f"dtype must be one of {tuple(DTYPES)}, got {dtype!r}")
    arrays: list[np.ndarray] = []
    described = {k: _describe(m, arrays) for k, m in models.items()}
    if pca is not None:
        image_shape = next(iter(models.values())).config.image_shape
        described["pca"] = _describe_pca(pca, image_shape, arrays)
    if encoders:  # after the decoders: their part of the body is the same as without
        for kind, model in models.items():
            described[kind]["encoder"] = _describe_encoder(model, arrays)
    n_params = sum(a.size for a in arrays)
    if n_params > MAX_PARAMETERS:
        coders = "decoders and encoders" if encoders else "decoders"
        raise Unsupported(
            f"the {coders} have {n_params:,} weights, more than the {MAX_PARAMETERS:,} "
            "sent to a browser"
        )
    dtype = dtype or ("float32" if n_params <= FLOAT32_UP_TO else "float16")
    body = b"".join(np.ascontiguousarray(a, dtype=DTYPES[dtype]).tobytes() for a in arrays)
    # The id names the bundle to the page's panels (a weights element has no other name there).
    header = {"id": hashlib.sha256(body).hexdigest()[:16], "dtype": dtype, "models": described}
    text = json.dumps(header, separators=(",", ":")).encode()
    pad = b"\0" * (-(8 + len(text)) % 4)
    return MAGIC + struct.pack("<I", len(text)) + text + pad + body


def pair_bundle(pair: ModelPair, with_pca: bool = False, with_encoders: bool = False) -> bytes:
    """The pair's decoders (and PCA's, when shown; and the encoders, for a page that encodes
    drawings) for the browser, built once per pair and kept with it (pair.shared); raises
    Unsupported when they cannot run there."""

    def build() -> bytes | Unsupported:
        try:
            pca = pair.pca if with_pca else None
            return bundle(pair.models, pca=pca, encoders=with_encoders)
        except Unsupported as e:
            return e  # kept, so that the refusal is not worked out again on every rerun

    key = ("web_bundle", with_pca) + (("encoders",) if with_encoders else ())
    result = pair.shared(key, build)
    if isinstance(result, Unsupported):
        raise result
    return result


def read_header(data: bytes) -> dict:
    """The JSON header of a bundle (for tests and tools)."""
    if data[:4] != MAGIC:
        raise ValueError("not a decoder bundle")
    (length,) = struct.unpack("<I", data[4:8])
    return json.loads(data[8 : 8 + length])


def _describe(model: AE, arrays: list[np.ndarray]) -> dict:
    """The decoder's ops; appends its weight arrays to `arrays`."""
    config = model.config
    decoder = model.decoder
    if isinstance(decoder, MLPCoder):
        ops = _sequential(decoder.net, arrays) + [{"op": "reshape", "shape": config.image_shape}]
    elif isinstance(decoder, ConvDecoder):
        ops = _sequential(nn.Sequential(decoder.head, nn.ReLU()), arrays)
        ops.append({"op": "reshape", "shape": list(decoder.first_shape)})
        ops += _sequential(decoder.deconvs, arrays)
    elif isinstance(decoder, ResidualDecoder):
        ops = _residual(decoder, arrays) + [{"op": "reshape", "shape": config.image_shape}]
    elif isinstance(decoder, RecurrentDecoder):
        ops = _recurrent_decoder(decoder, tuple(config.image_shape), arrays)
    else:
        raise Unsupported(f"its decoder {type(decoder).__name__} has no browser version")
    ops.append({"op": "sigmoid"})
    _check_work(ops, (config.latent_dim,), "one image takes")
    return {"latent_dim": config.latent_dim, "image_shape": list(config.image_shape), "ops": ops}


def _describe_encoder(model: AE, arrays: list[np.ndarray]) -> dict:
    """The encoder's ops, from the image to the code (the VAE's mean: the last layer's first
    latent_dim rows only); appends its weight arrays to `arrays`."""
    encoder, k = model.encoder, model.config.latent_dim
    flatten = [{"op": "flatten"}]
    if isinstance(encoder, MLPCoder) and not encoder.decoder:
        ops = flatten + _sequential(encoder.net, arrays, "encoder", rows=k)
    elif isinstance(encoder, ConvEncoder):
        ops = _sequential(encoder.convs, arrays, "encoder")
        ops += _sequential(nn.Sequential(encoder.head), arrays, "encoder", rows=k)
    elif isinstance(encoder, ResidualEncoder):
        ops = flatten + _sequential(encoder.net, arrays, "encoder", rows=k)
        ops.append(_pca_path(encoder.linear, arrays))
    elif isinstance(encoder, RecurrentEncoder):
        shape = tuple(model.config.image_shape)
        ops = [_cell(encoder.rnn, shape, encoder.rows_per_step, "encoder", arrays)]
        ops += _sequential(nn.Sequential(encoder.head), arrays, "encoder", rows=k)
    else:
        raise Unsupported(f"its encoder {type(encoder).__name__} has no browser version")
    _check_work(ops, tuple(model.config.image_shape), "encoding one drawing takes")
    return {"ops": ops}


def _pca_path(path: LinearPath, arrays: list[np.ndarray]) -> dict:
    """LinearPath.encode as an op. The mean is sent apart from the basis, not folded into a
    bias: mean @ basis.T sums thousands of terms that the logits then cancel, which float16
    could not round well."""
    k, n_pixels = path.basis.shape
    return {
        "op": "add_pca",
        "in": n_pixels,
        "out": k,
        "clip": LOGIT_CLIP,
        "weight": _append(arrays, path.basis.float().numpy()),
        "mean": _append(arrays, path.mean.float().numpy()),
        "scale": _append(arrays, path.scale.float().numpy()),
    }


def _check_work(ops: list[dict], shape: tuple[int, ...], what: str) -> None:
    work = _multiply_adds(ops, shape)
    if work > MAX_MULTIPLY_ADDS:
        raise Unsupported(
            f"{what} {work / 1e6:.2g} million multiply-adds, too slow to follow the "
            f"mouse in a browser (at most {MAX_MULTIPLY_ADDS / 1e6:.2g} million)"
        )


def _describe_pca(pca: PCA, image_shape: tuple[int, int, int], arrays: list) -> dict:
    """PCA's reconstruction, mean + codes @ components, clipped to [0, 1] as the server does."""
    n, n_pixels = pca.components_.shape
    weight, bias = _append(arrays, pca.components_.T), _append(arrays, pca.mean_)
    ops = [
        {"op": "linear", "in": n, "out": n_pixels, "weight": weight, "bias": bias},
        {"op": "reshape", "shape": list(image_shape)},
        {"op": "clip"},
    ]
    return {"latent_dim": n, "image_shape": list(image_shape), "ops": ops}


def _sequential(
    layers: nn.Sequential, arrays: list[np.ndarray], part: str = "decoder", rows: int | None = None
) -> list[dict]:
    """The layers' ops; rows: send only the last (linear) layer's first rows outputs."""
    ops = []
    for i, layer in enumerate(layers):
        if isinstance(layer, nn.ReLU):
            ops.append({"op": "relu"})
        elif isinstance(layer, nn.Flatten) and (layer.start_dim, layer.end_dim) == (1, -1):
            ops.append({"op": "flatten"})
        elif isinstance(layer, nn.Linear) and layer.bias is not None:
            n_out = layer.out_features if rows is None or i < len(layers) - 1 else rows
            ops.append(
                {
                    "op": "linear",
                    "in": layer.in_features,
                    "out": n_out,
                    **_weights(layer, arrays, n_out),
                }
            )
        elif isinstance(layer, nn.ConvTranspose2d) and _plain_conv(layer):
            ops.append(
                {
                    "op": "conv_transpose",
                    **_conv_shape(layer),
                    "output_padding": list(layer.output_padding),
                    **_weights(layer, arrays),
                }
            )
        elif isinstance(layer, nn.Conv2d) and _plain_conv(layer):
            ops.append({"op": "conv2d", **_conv_shape(layer), **_weights(layer, arrays)})
        else:
            raise Unsupported(f"its {part} has a layer the browser cannot run: {layer}")
    if rows is not None and ops[-1]["op"] != "linear":
        raise Unsupported(f"its {part} does not end in a linear layer")
    return ops


def _residual(decoder: ResidualDecoder, arrays: list[np.ndarray]) -> list[dict]:
    """The MLP, then the linear path (PCA) added from the latent point itself."""
    ops = _sequential(decoder.net, arrays)
    path = decoder.linear
    k, n_pixels = path.basis.shape
    direct = (path.basis * path.scale[:, None]).T  # (pixels, k): logits += z @ direct.T + mean
    ops.append(
        {
            "op": "add_linear",
            "in": k,
            "out": n_pixels,
            "weight": _append(arrays, direct.float().numpy()),
            "bias": _append(arrays, path.mean.float().numpy()),
        }
    )
    return ops


def _recurrent_decoder(
    decoder: nn.Module, image_shape: tuple[int, int, int], arrays: list[np.ndarray]
) -> list[dict]:
    """h0 = tanh(start(z)), the cell with z as every step's input, then each step's state
    through out as rows_per_step rows of the image (attributes start, rnn, out)."""
    c, _, w = image_shape
    rnn, out, per_step = decoder.rnn, decoder.out, decoder.rows_per_step
    if decoder.start.out_features != rnn.hidden_size or out.out_features != per_step * c * w:
        raise Unsupported(f"its recurrent decoder does not write {c} x {w} rows from its state")
    ops = _sequential(nn.Sequential(decoder.start), arrays) + [{"op": "tanh"}]
    ops.append(_cell(rnn, image_shape, per_step, "decoder", arrays, decoder.start.in_features))
    ops += _sequential(nn.Sequential(out), arrays)
    ops[-1].update(op="linear_rows", shape=list(image_shape))
    return ops


def _cell(
    rnn: nn.Module,
    image_shape: tuple[int, int, int],
    rows_per_step: int,
    part: str,
    arrays: list[np.ndarray],
    latent_dim: int = 0,
) -> dict:
    """A GRU or LSTM as an op: a decoder's (latent_dim > 0: the latent point is every step's
    input) or an encoder's (the image's rows are, rows_per_step of them per step)."""
    cell = {nn.GRU: "gru", nn.LSTM: "lstm"}.get(type(rnn))
    c, h, w = image_shape
    n_in = latent_dim or rows_per_step * c * w
    plain = cell is not None and (rnn.num_layers, rnn.bias, rnn.batch_first) == (1, True, True)
    if not (plain and not rnn.bidirectional and not rnn.proj_size and rnn.input_size == n_in):
        raise Unsupported(f"its {part} has a recurrent layer the browser cannot run: {rnn}")
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    weights = {n: _append(arrays, getattr(rnn, f"{n}_l0").detach().float().numpy()) for n in names}
    inputs = "latent" if latent_dim else "rows"
    return {
        "op": cell,
        "in": n_in,
        "hidden": rnn.hidden_size,
        "steps": h // rows_per_step,
        "inputs": inputs,
        **weights,
    }


def _plain_conv(layer: nn.Conv2d | nn.ConvTranspose2d) -> bool:
    """Square kernel and stride, zero padding, no dilation or groups: what ConvEncoder and
    ConvDecoder build."""
    k, s, p = layer.kernel_size, layer.stride, layer.padding
    return (
        k[0] == k[1]
        and s[0] == s[1]
        and not isinstance(p, str)
        and p[0] == p[1]
        and layer.dilation == (1, 1)
        and layer.groups == 1
        and layer.padding_mode == "zeros"
        and layer.bias is not None
    )


def _conv_shape(layer: nn.Conv2d | nn.ConvTranspose2d) -> dict:
    return {
        "in": layer.in_channels,
        "out": layer.out_channels,
        "kernel": layer.kernel_size[0],
        "stride": layer.stride[0],
        "padding": layer.padding[0],
    }


def _weights(layer: nn.Module, arrays: list[np.ndarray], rows: int | None = None) -> dict:
    """Appends the layer's weight and bias (their first rows outputs, when given); returns
    their [offset, count] entries."""
    return {
        name: _append(arrays, getattr(layer, name)[:rows].detach().to(torch.float32).cpu().numpy())
        for name in ("weight", "bias")
    }


def _append(arrays: list[np.ndarray], array: np.ndarray) -> list[int]:
    """Appends array (flattened) to the body; returns its [offset, count] in elements."""
    offset = sum(a.size for a in arrays)
    arrays.append(np.ravel(array))
    return [offset, arrays[-1].size]


def _multiply_adds(ops: list[dict], shape: tuple[int, ...]) -> int:
    """Multiply-adds to run ops once on an input of shape: linear in*out, a transposed conv
    in*out*k*k per input pixel, a conv in*out*k*k per output pixel, a cell's gates * hidden *
    (in + hidden) per step (in only once where the latent point is every step's input: the
    browser multiplies it once), linear_rows in*out per step."""
    total = 0
    for op in ops:
        if op["op"] in ("gru", "lstm"):
            gates = (3 if op["op"] == "gru" else 4) * op["hidden"]
            steps, latent = op["steps"], op["inputs"] == "latent"
            total += gates * (op["in"] * (1 if latent else steps) + op["hidden"] * steps)
            shape = (steps, op["hidden"]) if latent else (op["hidden"],)
        elif op["op"] == "linear_rows":
            c, h, w = op["shape"]
            total += h * c * w // op["out"] * op["in"] * op["out"]  # steps * in * out
            shape = tuple(op["shape"])
        elif op["op"] in ("linear", "add_linear", "add_pca"):
            total += op["in"] * op["out"]
            shape = (op["out"],) if op["op"] == "linear" else shape
        elif op["op"] == "reshape":
            shape = tuple(op["shape"])
        elif op["op"] == "flatten":
            shape = (math.prod(shape),)
        elif op["op"] == "conv_transpose":
            _, h, w = shape
            total += h * w * op["in"] * op["out"] * op["kernel"] ** 2
            size = [
                (n - 1) * op["stride"] - 2 * op["padding"] + op["kernel"] + extra
                for n, extra in zip((h, w), op["output_padding"], strict=True)
            ]
            shape = (op["out"], *size)
        elif op["op"] == "conv2d":
            _, h, w = shape
            k, s, p = op["kernel"], op["stride"], op["padding"]
            shape = (op["out"], (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
            total += shape[1] * shape[2] * op["in"] * op["out"] * k**2
    return total
