"""explorer/web/rules.js in Node against the Python it mirrors: the edit strip's values
(concepts.strip_alphas), a scrub's codes (concepts.edit for a concept's line, latent.lerp and
latent.slerp for an interpolation) and the crosses of a hovered point (core/selection.markers), on
seeded random inputs. Skips without Node, as tests/test_decoder_js.py does (tests/node.py)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from node import call_js, ok

from explorer.core import concepts, figures, latent
from explorer.core.points import Point
from explorer.core.selection import markers
from explorer.web.live_view import _map

SEED = 21


def test_map_kind_is_figures_map_kind():
    charts = [figures.map_key(kind) for kind in ("ae", "vae", "pca")] + ["ae", "map_map_x", ""]
    results = call_js(*[("mapKind", chart) for chart in charts])
    assert [ok(r) for r in results] == [figures.map_kind(chart) for chart in charts]


def test_strip_values_are_concepts_strip_alphas():
    rng = np.random.default_rng(SEED)
    cases = [(0.0, 7), (-0.0, 5), (1.0, 1), (-2.5, 2)]
    ts, ns = rng.normal(0, 3, 20), rng.integers(1, 12, 20)
    cases += [(float(t), int(n)) for t, n in zip(ts, ns, strict=True)]
    results = call_js(*[("stripValues", t, n) for t, n in cases])
    for (t, n), result in zip(cases, results, strict=True):
        np.testing.assert_allclose(ok(result), concepts.strip_alphas(t, n), rtol=0, atol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 5, 32])
def test_scrub_codes_on_a_line_are_concepts_edit(k):
    rng = np.random.default_rng(SEED + k)
    z = {kind: rng.normal(size=k) for kind in ("ae", "vae")}
    u = {kind: rng.normal(size=k) for kind in z}
    step = {kind: float(rng.uniform(0.1, 3)) for kind in z}
    scrub = {
        "method": "line",
        "from": {kind: z[kind].tolist() for kind in z},
        "to": {
            kind: (step[kind] * u[kind]).tolist() for kind in z
        },  # as the Concepts page sends it
    }
    ts = [0.0, -3.0, *rng.uniform(-3, 3, 6).tolist()]
    results = call_js(*[("scrubCodes", scrub, t) for t in ts])
    for t, result in zip(ts, results, strict=True):
        for kind, code in ok(result).items():
            want = concepts.edit(z[kind], u[kind], step[kind], [t])[0]
            np.testing.assert_allclose(code, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", ["lerp", "slerp"])
def test_scrub_codes_between_two_points_are_latent_py(method):
    rng = np.random.default_rng(SEED)
    a = {"ae": rng.normal(size=6), "vae": rng.normal(size=6), "pca": np.zeros(6)}
    b = {"ae": rng.normal(size=6), "vae": -2 * a["vae"], "pca": rng.normal(size=6)}
    scrub = {
        "method": method,
        "from": {kind: v.tolist() for kind, v in a.items()},
        "to": {kind: v.tolist() for kind, v in b.items()},
    }
    ts = [0.0, 1.0, *rng.uniform(0, 1, 6).tolist()]
    results = call_js(*[("scrubCodes", scrub, t) for t in ts])
    python = getattr(latent, method)
    for t, result in zip(ts, results, strict=True):
        for kind, code in ok(result).items():
            want = python(a[kind], b[kind], np.array([t]))[0]
            np.testing.assert_allclose(code, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("k", [2, 3, 16])
def test_crosses_are_where_point_markers_puts_a_point(k):
    rng = np.random.default_rng(SEED + k)
    projections = {kind: latent.fit_projection(rng.normal(size=(50, k))) for kind in ("ae", "vae")}
    # The panel's maps as the live view packs them; PCA of the images has a space of its own.
    live = {
        "maps": {f"map_{kind}": _map(kind, p) for kind, p in projections.items()},
        "ownLatent": {"pca": True},
    }
    live["maps"]["map_pca"] = _map("pca", latent.fit_projection(rng.normal(size=(50, k))))
    pair = SimpleNamespace(projections=projections, codes={})
    points = rng.normal(size=(5, k)) * 2
    results = call_js(*[("crossesFor", live, z.tolist()) for z in points])
    for z, result in zip(points, results, strict=True):
        crosses = ok(result)
        want = markers(pair, Point(tuple(z)))
        assert set(crosses) == set(want) == {"map_ae", "map_vae"}
        for chart, xy in crosses.items():
            np.testing.assert_allclose(xy, want[chart], rtol=0, atol=1e-12)


@pytest.mark.parametrize("k", [2, 7, 32])
def test_a_drawing_lands_where_each_models_map_puts_its_code(k):
    # drawnPoints: each model's own code through its own map's projection (Projection.to_plane,
    # which places the data's codes on the maps: ModelPair.xy); a kind without a code, none.
    rng = np.random.default_rng(SEED + k)
    projections = {kind: latent.fit_projection(rng.normal(size=(50, k))) for kind in ("ae", "vae")}
    live = {"maps": {f"map_{kind}": _map(kind, p) for kind, p in projections.items()}}
    live["maps"]["map_pca"] = _map("pca", latent.fit_projection(rng.normal(size=(50, k))))
    codes = {kind: rng.normal(size=k).tolist() for kind in projections}
    both, vae_only = call_js(
        ("drawnPoints", live, codes), ("drawnPoints", live, {"vae": codes["vae"]})
    )
    assert set(ok(both)) == {"map_ae", "map_vae"} and set(ok(vae_only)) == {"map_vae"}
    for kind, projection in projections.items():
        want = projection.to_plane(np.array([codes[kind]]))[0]
        np.testing.assert_allclose(ok(both)[f"map_{kind}"], want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 40, 40), (3, 20, 20)])
def test_the_pad_is_downsampled_to_block_means(shape):
    # draw.js's downsample: the pad's RGBA (200 x 200) -> planar (C, H, W) in [0, 1], each pixel
    # the mean of its block (grey: of red, green and blue); alpha is ignored.
    c, h, w = shape
    side = 200
    rgba = np.random.default_rng(SEED).integers(0, 256, size=(side, side, 4))
    result = ok(call_js(("downsample", rgba.ravel().tolist(), side, list(shape)))[0])
    blocks = rgba[..., :3].reshape(h, side // h, w, side // w, 3).mean(axis=(1, 3)) / 255
    want = blocks.mean(-1)[None] if c == 1 else blocks.transpose(2, 0, 1)
    np.testing.assert_allclose(np.reshape(result, shape), want, rtol=0, atol=1e-6)
