"""The encoders in the bundle of explorer/web/web_decoder.py (bundle(encoders=True)): their ops
and weights, the decoders' part left as it was, and the encoders the browser cannot run
(tests/test_encoder_js.py runs the bundles in Node)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from test_web_decoder import SHAPES, pair, split
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from explorer.web import web_decoder
from training.models import AE


def prepared(arch: str, **options) -> dict[str, AE]:
    models = pair(SHAPES[arch], arch=arch, **options)
    for model in models.values():
        model.prepare(torch.rand(40, *SHAPES[arch], generator=torch.Generator().manual_seed(0)))
    return models


def encoder_ops(models: dict[str, AE], kind: str = "vae") -> list[dict]:
    header = web_decoder.read_header(web_decoder.bundle(models, encoders=True))
    return header["models"][kind]["encoder"]["ops"]


def test_mlp_encoder_ops():
    ops = encoder_ops(pair((1, 8, 8)))
    assert [op["op"] for op in ops] == ["flatten", "linear", "relu", "linear"]
    assert [(op["in"], op["out"]) for op in ops if op["op"] == "linear"] == [(64, 256), (256, 2)]


def test_conv_encoder_ops():
    # 32 x 32 -> 16 -> 8 -> 4: three stride-2 convs, then the head to the mean
    ops = encoder_ops(pair(SHAPES["conv"], arch="conv"))
    assert [op["op"] for op in ops] == [*["conv2d", "relu"] * 3, "flatten", "linear"]
    convs = [op for op in ops if op["op"] == "conv2d"]
    assert [(op["in"], op["out"]) for op in convs] == [(3, 16), (16, 32), (32, 64)]
    assert all((op["kernel"], op["stride"], op["padding"]) == (4, 2, 1) for op in convs)
    assert (ops[-1]["in"], ops[-1]["out"]) == (64 * 4 * 4, 32)


def test_residual_encoder_sends_its_pca_path_as_it_is():
    models = prepared("residual")
    data = web_decoder.bundle(models, "float32", encoders=True)
    header, _, body = split(data)
    weights = np.frombuffer(body, dtype="<f4")
    ops = header["models"]["vae"]["encoder"]["ops"]
    assert [op["op"] for op in ops] == ["flatten", "linear", "relu", "linear", "add_pca"]
    path, op = models["vae"].encoder.linear, ops[-1]
    assert (op["in"], op["out"], op["clip"]) == (3 * 16 * 16, 32, 0.02)
    for name, want in (("weight", path.basis), ("mean", path.mean), ("scale", path.scale)):
        offset, count = op[name]
        np.testing.assert_array_equal(weights[offset : offset + count], want.numpy().ravel())


@pytest.mark.parametrize("arch", ["mlp", "conv", "residual"])
def test_the_vae_encoder_sends_only_the_mean_rows(arch):
    models = prepared(arch)
    header, _, body = split(web_decoder.bundle(models, "float32", encoders=True))
    weights = np.frombuffer(body, dtype="<f4")
    last = header["models"]["vae"]["encoder"]["ops"][3 if arch == "residual" else -1]
    layer = [m for m in models["vae"].encoder.modules() if isinstance(m, nn.Linear)][-1]
    k = models["vae"].config.latent_dim
    assert layer.out_features == 2 * k and last["out"] == k
    for name in ("weight", "bias"):
        offset, count = last[name]
        want = getattr(layer, name)[:k].detach().numpy().ravel()  # mu's rows, not logvar's
        np.testing.assert_array_equal(weights[offset : offset + count], want)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_the_decoders_part_is_unchanged(dtype):
    models = prepared("residual")
    plain, with_encoders = (web_decoder.bundle(models, dtype, encoders=e) for e in (False, True))
    header, _, body = split(plain)
    header_e, _, body_e = split(with_encoders)
    assert all("encoder" not in model for model in header["models"].values())
    for kind, model in header["models"].items():
        assert header_e["models"][kind]["ops"] == model["ops"]
    assert body_e.startswith(body) and len(body_e) > len(body)  # encoders after the decoders
    assert header_e["id"] != header["id"]


def test_pair_bundle_keeps_each_bundle_apart():
    built = {}
    fake = SimpleNamespace(
        models=pair(), pca=None, shared=lambda key, build: built.setdefault(key, build())
    )
    plain = web_decoder.pair_bundle(fake)
    with_encoders = web_decoder.pair_bundle(fake, with_encoders=True)
    assert set(built) == {("web_bundle", False), ("web_bundle", False, "encoders")}
    assert "encoder" not in web_decoder.read_header(plain)["models"]["ae"]
    assert "encoder" in web_decoder.read_header(with_encoders)["models"]["ae"]


# ---- what the browser cannot run: Unsupported, one line ----


def unsupported_encoders(models: dict[str, AE]) -> str:
    web_decoder.bundle(models)  # the decoders alone are fine
    with pytest.raises(web_decoder.Unsupported) as caught:
        web_decoder.bundle(models, encoders=True)
    message = str(caught.value)
    assert message and "\n" not in message and "Traceback" not in message
    return message


def test_unknown_layer_in_an_encoder():
    models = pair()
    models["vae"].encoder.net[1] = nn.Tanh()
    assert unsupported_encoders(models) == "its encoder has a layer the browser cannot run: Tanh()"


def test_conv_the_browser_cannot_run():
    models = pair(SHAPES["conv"], arch="conv")
    models["ae"].encoder.convs[0] = nn.Conv2d(3, 16, 4, stride=2, padding=1, dilation=2)
    assert "its encoder has a layer the browser cannot run: Conv2d" in unsupported_encoders(models)
    models["ae"].encoder.convs[0] = nn.Conv2d(3, 16, 4, stride=2, padding=1, padding_mode="reflect")
    assert "cannot run: Conv2d" in unsupported_encoders(models)


def test_encoder_of_another_kind():
    models = pair()
    models["ae"].encoder = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    assert unsupported_encoders(models) == "its encoder Sequential has no browser version"


def test_encoder_that_does_not_end_in_a_linear_layer():
    models = pair()
    models["ae"].encoder.net.append(nn.ReLU())
    assert unsupported_encoders(models) == "its encoder does not end in a linear layer"


def test_the_faces_preview_pair_has_too_many_weights_with_encoders():
    # the residual coders' PCA paths are 32 x 12,288 each way: the decoders alone fit
    models = pair((3, 64, 64), arch="residual")
    assert unsupported_encoders(models) == (
        "the decoders and encoders have 7,955,072 weights, more than the 4,000,000 sent to a "
        "browser"
    )


def torch_encoder_multiply_adds(model: AE) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.encode(torch.zeros(1, *model.config.image_shape))
    return counter.get_total_flops() // 2


@pytest.mark.parametrize(
    "image_shape, options",
    [((1, 28, 28), {}), ((3, 64, 64), {"arch": "conv"}), ((1, 30, 28), {"arch": "conv"})],
)
def test_encoder_multiply_adds_count_as_torch_does(monkeypatch, image_shape, options):
    model = pair(image_shape, **options)["ae"]  # the AE: torch's encoder computes only z
    work = torch_encoder_multiply_adds(model)
    models = {"ae": model}
    monkeypatch.setattr(web_decoder, "_check_work", lambda *args: None)  # the decoder's limit
    ops = web_decoder.read_header(web_decoder.bundle(models, encoders=True))["models"]["ae"]
    assert web_decoder._multiply_adds(ops["encoder"]["ops"], image_shape) == work


def test_too_many_multiply_adds_to_encode(monkeypatch):
    # an encoder 16 times wider than its decoder: 270,000 multiply-adds against 17,000
    models = pair()
    models["vae"].encoder.net = nn.Sequential(nn.Linear(64, 4096), nn.ReLU(), nn.Linear(4096, 4))
    monkeypatch.setattr(web_decoder, "MAX_MULTIPLY_ADDS", 200_000)
    assert unsupported_encoders(models) == (
        "encoding one drawing takes 0.27 million multiply-adds, too slow to follow the mouse in a "
        "browser (at most 0.2 million)"
    )
