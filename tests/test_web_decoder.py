"""The decoder bundle of explorer/web/web_decoder.py: its layout, its weights, and the models it
refuses (tests/test_decoder_js.py runs the bundles in Node)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch
from decoders import rounded
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from explorer.web import web_decoder
from training.models import AE, build_model
from training.presets import default_model_config

SHAPES = {"mlp": (1, 8, 8), "conv": (3, 32, 32), "residual": (3, 16, 16)}


def pair(image_shape=(1, 8, 8), **options) -> dict[str, AE]:
    return {
        kind: build_model(default_model_config(image_shape, kind=kind, **options), seed=seed)
        for seed, kind in enumerate(("ae", "vae"))
    }


def split(data: bytes) -> tuple[dict, int, bytes]:
    """-> (header, where the body starts, body), read by hand from the documented layout."""
    assert data[:4] == b"LXD1"
    (length,) = struct.unpack("<I", data[4:8])
    start = 8 + length + (-(8 + length) % 4)
    assert data[8 + length : start] == b"\0" * (start - 8 - length)  # zero padding
    return web_decoder.read_header(data), start, data[start:]


def decoder_arrays(model: AE) -> list[np.ndarray]:
    """The decoder's weight and bias arrays in the order the browser runs its layers (the
    residual decoder's PCA path last, as one matrix basis * scale and the mean)."""
    layers = [m for m in model.decoder.modules() if isinstance(m, (nn.Linear, nn.ConvTranspose2d))]
    arrays = [p.detach().numpy().ravel() for layer in layers for p in (layer.weight, layer.bias)]
    path = getattr(model.decoder, "linear", None)
    if path is not None:
        arrays += [(path.basis * path.scale[:, None]).T.numpy().ravel(), path.mean.numpy()]
    return arrays


def test_header_round_trip_mlp():
    models = pair((1, 8, 8))
    header = web_decoder.read_header(web_decoder.bundle(models, "float32"))
    assert header["dtype"] == "float32"
    assert list(header["models"]) == ["ae", "vae"]
    for described in header["models"].values():
        assert described["latent_dim"] == 2 and described["image_shape"] == [1, 8, 8]
        ops = described["ops"]
        assert [op["op"] for op in ops] == ["linear", "relu", "linear", "reshape", "sigmoid"]
        assert (ops[0]["in"], ops[0]["out"], ops[2]["in"], ops[2]["out"]) == (2, 256, 256, 64)
        assert ops[3]["shape"] == [1, 8, 8]


def test_header_round_trip_conv():
    # 30 x 28 -> 15 x 14 -> 7 x 7: the transposed convs restore the odd 15 with output_padding
    models = pair((1, 30, 28), arch="conv", latent_dim=3)
    header = web_decoder.read_header(web_decoder.bundle(models))
    ops = header["models"]["vae"]["ops"]
    assert [op["op"] for op in ops] == [
        "linear",
        "relu",
        "reshape",
        "conv_transpose",
        "relu",
        "conv_transpose",
        "sigmoid",
    ]
    assert (ops[0]["in"], ops[0]["out"]) == (3, 32 * 7 * 7)
    assert ops[2]["shape"] == [32, 7, 7]
    first, second = ops[3], ops[5]
    assert (first["in"], first["out"], second["in"], second["out"]) == (32, 16, 16, 1)
    for op in (first, second):
        assert (op["kernel"], op["stride"], op["padding"]) == (4, 2, 1)
    assert first["output_padding"] == [1, 0] and second["output_padding"] == [0, 0]
    assert header["models"]["vae"]["image_shape"] == [1, 30, 28]


@pytest.mark.parametrize("arch", ["mlp", "conv", "residual"])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_offsets_cover_the_body_exactly(arch, dtype):
    models = pair(SHAPES[arch], arch=arch)
    for model in models.values():
        model.prepare(torch.rand(40, *SHAPES[arch], generator=torch.Generator().manual_seed(0)))
    data = web_decoder.bundle(models, dtype)
    header, start, body = split(data)
    assert start % 4 == 0
    itemsize = np.dtype(dtype).itemsize
    weights = np.frombuffer(body, dtype=np.dtype(dtype).newbyteorder("<"))
    assert len(body) == weights.size * itemsize
    spans = [
        op[name]
        for described in header["models"].values()
        for op in described["ops"]
        for name in ("weight", "bias")
        if name in op
    ]
    # back to back from 0 to the last byte: no gap, no overlap, nothing after
    ends = [0] + [offset + count for offset, count in spans]
    assert [offset for offset, _ in spans] == ends[:-1]
    assert ends[-1] == weights.size
    # and each span holds its layer's weights, rounded through dtype
    arrays = [a for model in models.values() for a in decoder_arrays(model)]
    assert [count for _, count in spans] == [a.size for a in arrays]
    assert sum(count for _, count in spans) == sum(a.size for a in arrays)
    for (offset, count), array in zip(spans, arrays, strict=True):
        want = array.astype(dtype)
        np.testing.assert_array_equal(weights[offset : offset + count], want)


def test_float16_is_about_half_the_size():
    models = pair((1, 28, 28))
    full, half = web_decoder.bundle(models, "float32"), web_decoder.bundle(models, "float16")
    assert len(split(half)[2]) * 2 == len(split(full)[2])
    assert 0.49 < len(half) / len(full) < 0.51


def test_the_bundle_depends_only_on_the_weights():
    assert web_decoder.bundle(pair()) == web_decoder.bundle(pair())
    other = pair()
    with torch.no_grad():
        other["vae"].decoder.net[0].bias[0] += 1
    assert web_decoder.bundle(other) != web_decoder.bundle(pair())


def test_unknown_dtype_is_a_value_error():
    with pytest.raises(
        ValueError,
        match=r"dtype must be one of \('float16', 'float32'\), got "
        r"'bfloat16'",
    ) as caught:
        web_decoder.bundle(pair(), "bfloat16")
    assert not isinstance(caught.value, web_decoder.Unsupported)  # a caller's mistake


def test_read_header_refuses_other_bytes():
    with pytest.raises(ValueError, match="not a decoder bundle"):
        web_decoder.read_header(b"PK\x03\x04" + bytes(20))


# ---- what the browser cannot run: Unsupported, with a message for the page ----


def unsupported(models: dict[str, AE]) -> str:
    with pytest.raises(web_decoder.Unsupported) as caught:
        web_decoder.bundle(models)
    message = str(caught.value)
    assert message and "\n" not in message and "Traceback" not in message
    return message


def test_unknown_layer_in_an_mlp_decoder():
    models = pair()
    models["vae"].decoder.net[1] = nn.Tanh()
    assert unsupported(models) == "its decoder has a layer the browser cannot run: Tanh()"


def test_unknown_layer_in_a_conv_decoder():
    models = pair(SHAPES["conv"], arch="conv")
    models["ae"].decoder.deconvs[1] = nn.LeakyReLU()
    assert "cannot run: LeakyReLU" in unsupported(models)


def test_transposed_conv_the_browser_cannot_run():
    models = pair(SHAPES["conv"], arch="conv")
    models["ae"].decoder.deconvs[0] = nn.ConvTranspose2d(128, 64, 4, stride=2, dilation=2)
    assert "cannot run: ConvTranspose2d" in unsupported(models)


def test_linear_layer_without_bias():
    models = pair()
    models["ae"].decoder.net[0] = nn.Linear(2, 256, bias=False)
    assert "cannot run: Linear(in_features=2, out_features=256, bias=False)" in unsupported(models)


def test_decoder_of_another_kind():
    models = pair()
    models["ae"].decoder = nn.Sequential(nn.Linear(2, 64), nn.Unflatten(1, (1, 8, 8)))
    assert unsupported(models) == "its decoder Sequential has no browser version"


def test_too_many_parameters(monkeypatch):
    models = pair((1, 28, 28))
    n = sum(p.numel() for m in models.values() for p in m.decoder.parameters())
    monkeypatch.setattr(web_decoder, "MAX_PARAMETERS", n)
    web_decoder.bundle(models)  # exactly at the limit: fine
    monkeypatch.setattr(web_decoder, "MAX_PARAMETERS", n - 1)
    message = unsupported(models)
    assert message == f"the decoders have {n:,} weights, more than the {n - 1:,} sent to a browser"


def torch_multiply_adds(model: AE) -> int:
    """torch's own count for one decoded image: FLOPs of its matmuls and convolutions / 2."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.decode(torch.zeros(1, model.config.latent_dim))
    return counter.get_total_flops() // 2


@pytest.mark.parametrize(
    "image_shape, options",
    [
        ((1, 28, 28), {}),
        ((3, 64, 64), {"arch": "conv"}),
        ((3, 64, 64), {}),
        ((1, 30, 28), {"arch": "conv", "latent_dim": 3}),
    ],
)
def test_multiply_add_limit_counts_as_torch_does(monkeypatch, image_shape, options):
    models = pair(image_shape, **options)
    work = max(torch_multiply_adds(m) for m in models.values())
    monkeypatch.setattr(web_decoder, "MAX_MULTIPLY_ADDS", work)
    web_decoder.bundle(models)  # exactly at the limit: fine
    monkeypatch.setattr(web_decoder, "MAX_MULTIPLY_ADDS", work - 1)
    assert "multiply-adds, too slow to follow the mouse" in unsupported(models)


def test_too_many_multiply_adds():
    # 128 x 128 colour: 29 M multiply-adds per image, with only 0.4 M weights per decoder
    models = pair((3, 128, 128), arch="conv")
    assert torch_multiply_adds(models["ae"]) > web_decoder.MAX_MULTIPLY_ADDS
    assert unsupported(models) == (
        "one image takes 29 million multiply-adds, too slow to follow the mouse in a browser "
        "(at most 20 million)"
    )


# ---- rounded: the oracle for the weights a browser holds ----


def test_rounded_is_a_rounded_copy():
    model = pair((1, 28, 28))["ae"]
    before = [p.detach().clone() for p in model.parameters()]
    twin = rounded(model, "float16")
    for p, original, q in zip(model.parameters(), before, twin.parameters(), strict=True):
        assert torch.equal(p, original)  # the model itself is untouched
        assert q.dtype == torch.float32 and torch.equal(q, original.half().float())
    assert any(not torch.equal(p, q) for p, q in zip(before, twin.parameters(), strict=True))
    same = rounded(model, "float32")
    assert all(torch.equal(p, q) for p, q in zip(before, same.parameters(), strict=True))


def test_float32_by_default_float16_past_the_limit(monkeypatch):
    """Small decoders travel exact (float32); past FLOAT32_UP_TO weights, in half the bytes."""
    models = pair((1, 8, 8))
    assert web_decoder.read_header(web_decoder.bundle(models))["dtype"] == "float32"
    monkeypatch.setattr(web_decoder, "FLOAT32_UP_TO", 1000)
    assert web_decoder.read_header(web_decoder.bundle(models))["dtype"] == "float16"


def test_the_default_faces_pair_runs_in_the_browser():
    # the conv decoders are small enough to go as float32
    header = web_decoder.read_header(web_decoder.bundle(pair((3, 64, 64))))
    assert header["dtype"] == "float32"
    assert [op["op"] for op in header["models"]["vae"]["ops"]] == [
        "linear",
        "relu",
        "reshape",
        *["conv_transpose", "relu"] * 3,
        "conv_transpose",
        "sigmoid",
    ]


def test_the_faces_preview_pair_runs_in_the_browser():
    # the residual decoders (128 hidden units and the PCA path) stay under the weight limit
    header = web_decoder.read_header(web_decoder.bundle(pair((3, 64, 64), arch="residual")))
    assert header["dtype"] == "float16"
    assert [op["op"] for op in header["models"]["vae"]["ops"]] == [
        "linear",
        "relu",
        "linear",
        "add_linear",
        "reshape",
        "sigmoid",
    ]
