"""explorer/web/decoder.js's encode and conv2d in Node against torch as the oracle.

Real bundles with encoders (explorer/web/web_decoder.py) of AE/VAE pairs with spread-out
encoder weights encode images in Node (tests/js/encode_check.mjs) to torch's codes (the AE's z,
the VAE's mean): against torch in float64 on exactly the weights the browser holds
(`rounded(model, dtype)`) to float32's rounding of the result, and against the original model
within F32_TOLERANCE (float32 bundle) or F16_TOLERANCE (float16) of the codes' spread. conv2d
alone goes through tests/js/call.mjs against torch.nn.functional.conv2d in float64.

Skips without Node, except where LATENT_EXPLORER_REQUIRE_BROWSER=1 (tests/node.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from decoders import rounded, spread
from node import call_js, ok, require_node, run_node

from explorer.web import web_decoder
from training.models import AE, build_model
from training.presets import default_model_config

N_IMAGES = 12
# The browser's codes against the original float32 model, as a fraction of the codes' spread
# (their standard deviation over the test images): float32 weights differ from torch's float32
# arithmetic only by its rounding; float16 weights move the codes by the rounding of each.
F32_TOLERANCE = 1e-5
F16_TOLERANCE = 1e-2


def pair(image_shape, **options) -> dict[str, AE]:
    models = {}
    for seed, kind in enumerate(("ae", "vae")):
        model = build_model(default_model_config(image_shape, kind=kind, **options))
        model.prepare(torch.rand((64, *image_shape), generator=torch.Generator().manual_seed(seed)))
        models[kind] = spread(model, seed, coder="encoder")
    return models


# name -> (image_shape, default_model_config options): every encoder training/models.py builds
CASES = {
    "mlp-digits": ((1, 8, 8), {}),
    # MNIST's recipe: two hidden layers (training/presets.py DATASET_RECIPES)
    "mlp-mnist-1d": ((1, 28, 28), {"hidden": (512, 512), "latent_dim": 1}),
    "conv-mnist": ((1, 28, 28), {"arch": "conv", "latent_dim": 2}),
    "conv-faces": ((3, 64, 64), {"arch": "conv"}),  # 32-D, four stride-2 convs
    # 30 x 28 -> 15 x 14 -> 7 x 7: an odd size floors
    "conv-odd-3d": ((1, 30, 28), {"arch": "conv", "latent_dim": 3}),
    # 32-D residual coders (the faces preview's at 64 x 64 are refused with encoders: too many
    # weights, tests/test_web_encoder.py)
    "residual-mnist": ((1, 28, 28), {"arch": "residual"}),
    "residual-deep": ((3, 16, 16), {"arch": "residual", "hidden": (24, 16), "latent_dim": 5}),
}


@pytest.fixture(scope="module")
def pairs() -> dict[str, dict[str, AE]]:
    require_node()  # before building models that only Node would use
    return {name: pair(shape, **options) for name, (shape, options) in CASES.items()}


def images(image_shape, n: int, seed: int) -> np.ndarray:
    """(n, C, H, W) float32 in [0, 1]: grey noise, then drawings (strokes of 1 on 0), a blank
    image and a full one (the residual path's logits are clipped at both ends)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n, *image_shape))
    x[n // 2 :] = rng.uniform(0, 1, (n - n // 2, *image_shape)) < 0.2
    x[-2], x[-1] = 0, 1
    return x.astype(np.float32)


def torch_codes(model: AE, x: np.ndarray, dtype=torch.float32) -> np.ndarray:
    """The model's codes (the VAE's mean) for images x, computed in dtype."""
    with torch.no_grad():
        return model.to(dtype).encode(torch.from_numpy(x).to(dtype)).double().numpy()


def node_encode(folder: Path, bundle: bytes, x: np.ndarray, kinds, repeats: int = 1) -> dict:
    """Encode images x in Node; -> {kind: {ms_per_encode, codes (N, latent_dim)}}."""
    (folder / "bundle.bin").write_bytes(bundle)
    (folder / "images.bin").write_bytes(x.astype("<f4").tobytes())
    (folder / "cases.json").write_text(json.dumps({"kinds": list(kinds), "repeats": repeats}))
    result = json.loads(run_node("encode_check.mjs", str(folder)))
    for kind in kinds:
        codes = np.fromfile(folder / f"encoded_{kind}.bin", dtype="<f4").astype(np.float64)
        result[kind]["codes"] = codes.reshape(len(x), -1)
    return result


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("name", list(CASES))
def test_encode_matches_torch(pairs, name, dtype, tmp_path):
    models = pairs[name]
    x = images(CASES[name][0], N_IMAGES, seed=3)
    data = web_decoder.bundle(models, dtype, encoders=True)
    result = node_encode(tmp_path, data, x, models, repeats=5)
    for kind, model in models.items():
        codes = result[kind]["codes"]
        assert codes.shape == (N_IMAGES, model.config.latent_dim)
        original = torch_codes(model, x)
        held = torch_codes(rounded(model, dtype), x, torch.float64)  # the browser's weights
        spread_ = original.std()
        assert spread_ > 0.1 and np.abs(np.diff(original, axis=0)).max() > 0.1  # codes differ
        vs_held = np.abs(codes - held).max() / spread_
        vs_original = np.abs(codes - original).max() / spread_
        print(
            f"{name} {dtype} {kind}: vs held weights {vs_held:.1e}, vs original "
            f"{vs_original:.1e} of the spread {spread_:.2f}, "
            f"{result[kind]['ms_per_encode']:.3f} ms/encode"
        )
        np.testing.assert_allclose(codes, held, rtol=1e-6, atol=1e-6 * spread_)
        assert vs_original < (F32_TOLERANCE if dtype == "float32" else F16_TOLERANCE)


def test_the_vae_sends_only_its_mean(pairs):
    """The bundle's VAE encoder ends at the mean: the last layer's first latent_dim rows."""
    models = pairs["conv-odd-3d"]
    header = web_decoder.read_header(web_decoder.bundle(models, encoders=True))
    for kind in models:
        last = header["models"][kind]["encoder"]["ops"][-1]
        assert (last["op"], last["out"], last["weight"][1]) == ("linear", 3, 3 * 32 * 7 * 7)


def test_encode_is_fast_enough_for_every_pointer_move(pairs, tmp_path):
    """A 28 x 28 conv encoder (MNIST's conv pair), timed over 40 passes through 12 images."""
    models = pairs["conv-mnist"]
    x = images((1, 28, 28), N_IMAGES, seed=4)
    data = web_decoder.bundle(models, "float32", encoders=True)
    result = node_encode(tmp_path, data, x, models, repeats=40)
    ms = {kind: result[kind]["ms_per_encode"] for kind in models}
    print(f"conv-mnist encode: {ms} ms")
    assert max(ms.values()) < 16  # well inside one frame at 60 fps (about 1 ms measured)


# ---- conv2d alone, against torch.nn.functional.conv2d ----

# (in, h, w, out, kernel, stride, padding): the models' 4/2/1 on even and odd sizes, and others
CONVS = [
    (1, 28, 28, 16, 4, 2, 1),
    (2, 15, 13, 3, 4, 2, 1),
    (3, 7, 5, 4, 3, 2, 1),
    (2, 9, 11, 5, 5, 3, 2),
    (1, 5, 5, 2, 1, 1, 0),
    (3, 6, 4, 2, 3, 1, 0),
    (2, 4, 3, 3, 3, 2, 2),  # padding wider than half the kernel: whole rows of zeros
    (1, 3, 3, 1, 3, 1, 1),
]


@pytest.mark.parametrize("case", CONVS, ids=["x".join(map(str, c)) for c in CONVS])
def test_conv2d_matches_torch(case):
    c_in, h, w, c_out, k, s, p = case
    rng = np.random.default_rng(sum(case))
    x = rng.standard_normal((c_in, h, w)).astype(np.float32)
    x[x < -0.5] = 0  # zeros, as after a ReLU
    weight, bias = rng.standard_normal((c_out, c_in, k, k)), rng.standard_normal(c_out)
    op = {"in": c_in, "out": c_out, "kernel": k, "stride": s, "padding": p}
    op |= {"weight": weight.ravel().tolist(), "bias": bias.tolist()}
    (result,) = call_js(("conv2d", {"$f32": x.ravel().tolist()}, [c_in, h, w], op))
    got, shape = ok(result)
    want = F.conv2d(
        torch.from_numpy(x).double()[None],
        torch.from_numpy(weight),
        torch.from_numpy(bias),
        stride=s,
        padding=p,
    )[0]
    assert shape == list(want.shape)
    np.testing.assert_allclose(np.reshape(got, shape), want.numpy(), rtol=0, atol=1e-12)


def test_conv2d_refuses_a_kernel_larger_than_the_image():
    op = {"in": 1, "out": 1, "kernel": 5, "stride": 1, "padding": 0, "weight": [0] * 25}
    (result,) = call_js(("conv2d", [0] * 9, [1, 3, 3], {**op, "bias": [0]}))
    assert "a 5 x 5 kernel does not fit a 3 x 3 image" in result["error"]


# ---- what encode refuses ----


def test_encode_refuses_an_image_of_the_wrong_size(pairs, tmp_path):
    path = tmp_path / "bundle.bin"
    path.write_bytes(web_decoder.bundle(pairs["conv-odd-3d"], encoders=True))
    model = {"$model": str(path), "kind": "vae"}
    good, short, long, nothing = call_js(
        ("encode", model, {"$f32": [0.5] * 840}),
        ("encode", model, {"$f32": [0.5] * 839}),
        ("encode", model, [0.0] * 28 * 28),
        ("encode", model, None),
    )
    assert len(ok(good)) == 3
    assert short["error"] == "Error: the image has 839 pixel values, not 840 (1 x 30 x 28)"
    assert long["error"] == "Error: the image has 784 pixel values, not 840 (1 x 30 x 28)"
    assert nothing["error"] == "Error: the image has undefined pixel values, not 840 (1 x 30 x 28)"


def test_encode_needs_a_bundle_with_encoders(pairs, tmp_path):
    path = tmp_path / "bundle.bin"
    path.write_bytes(web_decoder.bundle(pairs["mlp-digits"]))
    (result,) = call_js(("encode", {"$model": str(path), "kind": "ae"}, [0.0] * 64))
    assert result["error"] == (
        "Error: this bundle has no encoders (web_decoder.bundle(encoders=True))"
    )
