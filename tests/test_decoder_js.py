"""explorer/web/decoder.js in Node against torch and explorer/core/latent.py as oracles.

Real bundles from explorer/web/web_decoder.py, of AE/VAE pairs with spread-out weights, decode
in Node (tests/js/decode_check.mjs) to torch's pixels: a float32 bundle within 1e-5 of the
model; a float16 bundle within 1e-5 of `rounded(model, "float16")` (exactly the weights the
browser holds) and within F16_TOLERANCE of the original. The latent math (projection, lerp,
slerp), toRGBA, float16 widening, PCA's decoder and malformed bundles go through
tests/js/call.mjs.

Node is /usr/bin/node (apt-get install nodejs): these tests skip without it, except where
LATENT_EXPLORER_REQUIRE_BROWSER=1 (CI), where they fail (tests/node.py).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from decoders import rounded, spread
from node import call_js, ok, require_node, run_node
from sklearn.decomposition import PCA
from torch import nn

from explorer.core import latent
from explorer.web import web_decoder
from training.models import AE, build_model
from training.presets import default_model_config

N_POINTS = 12
# A float16 bundle against the original float32 model: under half of one 8-bit grey level
# (1/255). The rounding of the weights alone moves these models' pixels by up to 1.2e-3; a
# digits AE trained 100 epochs moves by up to 3.2e-3 (its weights reach 5), so this bound is
# for the spread-out test models, not a promise for every trained one.
F16_TOLERANCE = 2e-3


def pair(image_shape, **options) -> dict[str, AE]:
    models = {}
    for seed, kind in enumerate(("ae", "vae")):
        model = build_model(default_model_config(image_shape, kind=kind, **options))
        model.prepare(torch.rand((64, *image_shape), generator=torch.Generator().manual_seed(seed)))
        models[kind] = spread(model, seed)
    return models


# name -> (image_shape, default_model_config options)
CASES = {
    "mlp-digits": ((1, 8, 8), {}),
    "mlp-mnist": ((1, 28, 28), {}),
    "mlp-digits-1d": ((1, 8, 8), {"latent_dim": 1}),
    "conv-faces": ((3, 64, 64), {"arch": "conv"}),
    # the default for faces: PCA's linear path folded into the MLP (web_decoder._folded_residual)
    "residual-faces": ((3, 64, 64), {}),
    "residual-deep": ((3, 16, 16), {"arch": "residual", "hidden": (24, 16)}),
    # 30 x 28 -> 15 x 14 -> 7 x 7: the first transposed conv has output_padding (1, 0)
    "conv-odd-3d": ((1, 30, 28), {"arch": "conv", "latent_dim": 3}),
}


@pytest.fixture(scope="module")
def pairs() -> dict[str, dict[str, AE]]:
    require_node()  # before building models that only Node would use
    return {name: pair(shape, **options) for name, (shape, options) in CASES.items()}


def torch_pixels(model: AE, points: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model.decode(torch.from_numpy(points)).numpy().reshape(len(points), -1)


def node_decode(folder: Path, bundle: bytes, points: dict, expected: dict) -> dict:
    """Decode points {kind: (N, K) float32} in Node; -> {kind: {max_error vs expected,
    ms_per_image, pixels (N, C*H*W)}}."""
    (folder / "bundle.bin").write_bytes(bundle)
    cases = {"points": {kind: z.astype(np.float64).tolist() for kind, z in points.items()}}
    (folder / "cases.json").write_text(json.dumps(cases))
    for kind, pixels in expected.items():
        (folder / f"expected_{kind}.bin").write_bytes(pixels.astype("<f4").tobytes())
    result = json.loads(run_node("decode_check.mjs", str(folder)))
    for kind in points:
        pixels = np.fromfile(folder / f"decoded_{kind}.bin", dtype="<f4")
        result[kind]["pixels"] = pixels.reshape(len(points[kind]), -1)
    return result


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("name", list(CASES))
def test_decode_matches_torch(pairs, name, dtype, tmp_path):
    models = pairs[name]
    rng = np.random.default_rng(7)
    points = {
        kind: (2 * rng.standard_normal((N_POINTS, m.config.latent_dim))).astype(np.float32)
        for kind, m in models.items()
    }
    original = {kind: torch_pixels(m, points[kind]) for kind, m in models.items()}
    browser_weights = {
        kind: torch_pixels(rounded(m, dtype), points[kind]) for kind, m in models.items()
    }
    for pixels in original.values():  # the case tests something: images spread, not all ~0.5
        assert pixels.std() > 0.15 and pixels.std(0).mean() > 0.1
        assert 0.01 < ((pixels < 0.02) | (pixels > 0.98)).mean() < 0.5
    if name == "conv-odd-3d":
        ops = web_decoder.read_header(web_decoder.bundle(models))["models"]["ae"]["ops"]
        assert [op["output_padding"] for op in ops if op["op"] == "conv_transpose"] == [
            [1, 0],
            [0, 0],
        ]

    result = node_decode(tmp_path, web_decoder.bundle(models, dtype), points, browser_weights)
    for kind in models:
        decoded = result[kind]["pixels"]
        assert decoded.shape == original[kind].shape
        assert np.all((decoded >= 0) & (decoded <= 1))
        vs_rounded = np.abs(decoded - browser_weights[kind]).max()
        vs_original = np.abs(decoded - original[kind]).max()
        assert result[kind]["max_error"] == pytest.approx(vs_rounded, abs=1e-7)
        print(
            f"{name} {dtype} {kind}: vs rounded {vs_rounded:.2e}, vs original "
            f"{vs_original:.2e}, {result[kind]['ms_per_image']:.2f} ms/image"
        )
        assert vs_rounded < 1e-5
        assert vs_original < (1e-5 if dtype == "float32" else F16_TOLERANCE)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_pca_decoder_matches_sklearn(dtype, tmp_path):
    """PCA as a linear decoder: mean + codes @ components, clipped to [0, 1] as the server's
    reconstruction is."""
    rng = np.random.default_rng(5)
    images = np.clip(rng.normal(0.4, 0.3, (300, 64)) + rng.normal(0, 0.3, (300, 1)), 0, 1)
    pca = PCA(n_components=2, random_state=0).fit(images)
    models = pair((1, 8, 8))
    codes = np.concatenate([pca.transform(images[:20]), 3 * rng.standard_normal((20, 2))])
    want = pca.inverse_transform(codes)
    if dtype == "float16":  # exactly the weights the browser holds
        components, mean = (
            a.astype(np.float16).astype(np.float64) for a in (pca.components_, pca.mean_)
        )
        want = mean + codes @ components
    want = np.clip(want, 0, 1)
    assert (want == 0).any() and (want == 1).any()  # clipping happens, at both ends
    path = tmp_path / "bundle.bin"
    path.write_bytes(web_decoder.bundle(models, dtype, pca=pca))
    model = {"$model": str(path), "kind": "pca"}
    got = np.array([ok(r) for r in call_js(*[("decode", model, c.tolist()) for c in codes])])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_decode_refuses_a_point_of_the_wrong_size(tmp_path):
    path = tmp_path / "bundle.bin"
    path.write_bytes(web_decoder.bundle(pair((1, 8, 8))))
    model = {"$model": str(path), "kind": "vae"}
    good, short, long = call_js(
        ("decode", model, [0.5, -1.0]), ("decode", model, [0.5]), ("decode", model, [0, 0, 0])
    )
    assert len(ok(good)) == 64
    assert "z has 1 numbers, not 2" in short["error"]
    assert "z has 3 numbers, not 2" in long["error"]


# ---- the latent math of the map, against explorer/core/latent.py ----


def as_js(projection: latent.Projection) -> dict:
    return {"mean": projection.mean.tolist(), "components": projection.components.tolist()}


@pytest.mark.parametrize("k", [5, 2, 1])
def test_projection_matches_latent_py(k):
    rng = np.random.default_rng(k)
    codes = rng.standard_normal((200, k)) * rng.uniform(0.5, 3, k) + rng.normal(0, 2, k)
    projection = latent.fit_projection(codes)
    xy = rng.normal(0, 3, (20, 2))
    z = rng.normal(0, 3, (20, k))
    js = as_js(projection)
    results = call_js(
        *[("toLatent", js, p.tolist()) for p in xy],
        *[("toPlane", js, p.tolist()) for p in z],
        *[("toLatent", js, p.tolist(), base.tolist()) for p, base in zip(xy, z, strict=True)],
    )
    to_latent, to_plane, on_base = (
        np.array([ok(r) for r in results[i : i + 20]]) for i in (0, 20, 40)
    )
    np.testing.assert_allclose(to_latent, projection.to_latent(xy), rtol=0, atol=1e-12)
    np.testing.assert_allclose(to_plane, projection.to_plane(z), rtol=0, atol=1e-12)
    want = [projection.to_latent(p, base=base)[0] for p, base in zip(xy, z, strict=True)]
    np.testing.assert_allclose(on_base, want, rtol=0, atol=1e-12)
    # a code's own map point, on its own base, is the code
    back = call_js(
        *[("toLatent", js, projection.to_plane(c[None])[0].tolist(), c.tolist()) for c in z]
    )
    np.testing.assert_allclose([ok(r) for r in back], z, rtol=0, atol=1e-12)
    # and back: a point of the plane survives the round trip (a 1-D space keeps only x)
    back = projection.to_plane(to_latent)
    np.testing.assert_allclose(back[:, : min(k, 2)], xy[:, : min(k, 2)], rtol=0, atol=1e-12)


SLERP_CASES = {
    "general": ([1.0, 2.0, -0.5, 0.3, 4.0], [-2.0, 0.5, 1.5, -1.0, 0.2]),
    "near-orthogonal": ([1.0, 0.0, 1e-9], [0.0, 2.0, 0.0]),
    "zero a": ([0.0, 0.0, 0.0], [1.0, -2.0, 3.0]),
    "zero b": ([1.0, -2.0, 3.0], [0.0, 0.0, 0.0]),
    "both zero": ([0.0, 0.0], [0.0, 0.0]),
    "parallel": ([1.0, -2.0, 3.0], [3.0, -6.0, 9.0]),
    "antiparallel": ([1.0, -2.0, 3.0], [-0.5, 1.0, -1.5]),
    "equal": ([0.7, 0.1], [0.7, 0.1]),
    "almost parallel": ([1.0, 1.0], [1.0, 1.0 + 1e-9]),
    "1-D": ([2.0], [-3.0]),
}
T = [0.0, 0.25, 0.5, 0.9, 1.0, -0.2, 1.3]


@pytest.mark.parametrize("name", list(SLERP_CASES))
def test_lerp_and_slerp_match_latent_py(name):
    a, b = SLERP_CASES[name]
    results = call_js(*[(fn, a, b, t) for fn in ("lerp", "slerp") for t in T])
    got_lerp = np.array([ok(r) for r in results[: len(T)]])
    got_slerp = np.array([ok(r) for r in results[len(T) :]])
    np.testing.assert_allclose(
        got_lerp, latent.lerp(np.array(a), np.array(b), np.array(T)), rtol=0, atol=1e-12
    )
    want = latent.slerp(np.array(a), np.array(b), np.array(T))
    np.testing.assert_allclose(got_slerp, want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got_slerp[0], a, atol=1e-12)  # the ends are a and b
    np.testing.assert_allclose(got_slerp[T.index(1.0)], b, atol=1e-12)


def test_slerp_keeps_the_norm_on_the_great_circle():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(8) * 2, rng.standard_normal(8)
    got = np.array([ok(r) for r in call_js(*[("slerp", a.tolist(), b.tolist(), t) for t in T])])
    norms = (1 - np.array(T)) * np.linalg.norm(a) + np.array(T) * np.linalg.norm(b)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), norms, rtol=1e-12)


# ---- pixels to RGBA ----


def rgba_oracle(pixels: np.ndarray) -> np.ndarray:
    """(C, H, W) float32 -> (H * W * 4) uint8 as the browser draws it: round half up, clamp."""
    c, h, w = pixels.shape
    rgb = pixels if c == 3 else np.repeat(pixels, 3, axis=0)
    values = np.clip(np.floor(rgb.astype(np.float64) * 255 + 0.5), 0, 255).astype(np.uint8)
    return np.concatenate([values, np.full((1, h, w), 255, np.uint8)]).transpose(1, 2, 0).ravel()


@pytest.mark.parametrize("channels", [1, 3])
def test_to_rgba(channels):
    rng = np.random.default_rng(channels)
    shape = (channels, 5, 7)
    pixels = rng.uniform(0, 1, shape).astype(np.float32)
    pixels.flat[:4] = [0.0, 1.0, -0.25, 1.5]  # the ends, and clamping outside [0, 1]
    (result,) = call_js(("toRGBA", {"$f32": pixels.ravel().tolist()}, list(shape)))
    got = np.array(ok(result), dtype=np.uint8)
    np.testing.assert_array_equal(got, rgba_oracle(pixels))
    if channels == 1:
        quads = got.reshape(-1, 4)
        assert (quads[:, 0] == quads[:, 1]).all() and (quads[:, 0] == quads[:, 2]).all()


def test_to_rgba_rounds_half_up():
    # plain numbers (not a Float32Array) can land on k + 0.5 exactly, where Math.round goes up
    # and a Uint8ClampedArray alone would round to even
    values = (np.arange(256) + 0.5) / 255
    assert (values * 255 == np.arange(256) + 0.5).sum() > 10  # there are exact ties to test
    (result,) = call_js(("toRGBA", values.tolist(), [1, 1, 256]))
    got = np.array(ok(result), dtype=np.uint8).reshape(-1, 4)[:, 0]
    np.testing.assert_array_equal(got, np.clip(np.floor(values * 255 + 0.5), 0, 255))


# ---- float16 widening and malformed bundles ----


def special_values() -> np.ndarray:
    """float32 values that cover float16: zeros, subnormals, the normal range's ends, overflow
    to infinity, NaN, negatives, and random numbers over 17 decades."""
    tiny = 2.0**-24  # the smallest float16 subnormal
    fixed = [
        0.0,
        -0.0,
        tiny,
        -tiny,
        3 * tiny,
        1023 * tiny,
        -1023 * tiny,
        2**-14,
        -(2**-14),
        2**-14 - tiny,
        1e-9,
        -1e-9,
        0.5 * tiny,
        0.75 * tiny,
        1.0,
        -1.0,
        0.1,
        -2.5,
        65504.0,
        -65504.0,
        65519.0,
        70000.0,
        -70000.0,
        np.inf,
        -np.inf,
        np.nan,
    ]
    rng = np.random.default_rng(16)
    scales = 10.0 ** rng.uniform(-12, 5, 480)
    return np.concatenate([fixed, rng.standard_normal(480) * scales]).astype(np.float32)


def js_floats(values: list) -> np.ndarray:
    return np.array([float(v) for v in values], dtype=np.float32)


def test_float16_weights_widen_exactly(tmp_path):
    models = pair((1, 8, 8))
    first = models["ae"].decoder.net[0].weight  # (256, 2): room for every value
    values = special_values()
    with torch.no_grad():
        first.view(-1)[: len(values)] = torch.from_numpy(values)
    with np.errstate(over="ignore"):  # 70000 -> inf is part of the test
        data = web_decoder.bundle(models, "float16")
    path = tmp_path / "bundle.bin"
    path.write_bytes(data)
    (aligned, unaligned) = call_js(
        ("parseBundle", {"$bytes": str(path)}), ("parseBundle", {"$bytes": str(path), "offset": 1})
    )
    assert ok(aligned) == ok(unaligned)  # a view at an odd offset reads the same
    weight = js_floats(ok(aligned)["models"]["ae"]["ops"][0]["weight"])
    with np.errstate(over="ignore"):
        want = first.detach().numpy().ravel().astype(np.float16).astype(np.float32)
    # bit for bit: the signs of zeros, the subnormals, infinities and NaN all as numpy has them
    np.testing.assert_array_equal(weight.view(np.uint32), want.view(np.uint32))
    assert np.signbit(weight[1]) and weight[2] == 2.0**-24 and weight[21] == np.inf  # 70000


def test_float32_weights_are_exact(tmp_path):
    models = pair((1, 8, 8))
    path = tmp_path / "bundle.bin"
    path.write_bytes(web_decoder.bundle(models, "float32"))
    parsed = ok(call_js(("parseBundle", {"$bytes": str(path), "offset": 3}))[0])
    assert parsed["dtype"] == "float32"
    for kind, model in models.items():
        ops = parsed["models"][kind]["ops"]
        assert [op["op"] for op in ops] == ["linear", "relu", "linear", "reshape", "sigmoid"]
        linears = [layer for layer in model.decoder.net if isinstance(layer, nn.Linear)]
        for op, layer in zip([op for op in ops if "weight" in op], linears, strict=True):
            np.testing.assert_array_equal(js_floats(op["weight"]), layer.weight.detach().view(-1))
            np.testing.assert_array_equal(js_floats(op["bias"]), layer.bias.detach())


def handmade(header: dict, body: bytes) -> bytes:
    text = json.dumps(header).encode()
    return b"LXD1" + struct.pack("<I", len(text)) + text + b"\0" * (-(8 + len(text)) % 4) + body


def test_malformed_bundles_throw(tmp_path):
    models = pair((1, 8, 8))
    good32 = web_decoder.bundle(models, "float32")
    good16 = web_decoder.bundle(models, "float16")
    header_end = 8 + struct.unpack("<I", good32[4:8])[0]
    one_op = {"op": "linear", "in": 1, "out": 1, "weight": [0, 1], "bias": [1, 1]}
    model = {"latent_dim": 1, "image_shape": [1, 1, 1], "ops": [one_op]}
    bad = {
        "wrong magic": b"LXD2" + good32[4:],
        "empty": b"",
        "only the magic": b"LXD1",
        "truncated header": good32[: header_end - 10],
        "no body": good32[:header_end],
        "float32 body short of one weight": good32[:-4],
        "float32 body cut mid-weight": good32[:-1],
        "float16 body short of one weight": good16[:-2],
        "float16 body cut mid-weight": good16[:-1],
        "unknown dtype": handmade({"dtype": "bfloat16", "models": {"m": model}}, b"\0" * 8),
        "offset past the end": handmade(
            {"dtype": "float32", "models": {"m": {**model, "ops": [{**one_op, "bias": [2, 1]}]}}},
            struct.pack("<2f", 1.0, 2.0),
        ),
    }
    calls = []
    for i, data in enumerate(bad.values()):
        path = tmp_path / f"bad{i}.bin"
        path.write_bytes(data)
        calls.append(("parseBundle", {"$bytes": str(path)}))
    results = dict(zip(bad, call_js(*calls), strict=True))
    for name, result in results.items():
        assert "error" in result, f"{name}: parsed without an error"
    messages = {name: result["error"] for name, result in results.items()}
    assert "not a decoder bundle" in messages["wrong magic"]
    assert "not a decoder bundle" in messages["empty"]
    assert "truncated" in messages["float32 body short of one weight"]
    assert "truncated" in messages["float16 body cut mid-weight"]
    assert "unknown dtype bfloat16" in messages["unknown dtype"]
    assert "truncated" in messages["offset past the end"]
