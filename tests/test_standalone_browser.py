"""The standalone page (explorer/web/standalone.py) in Debian's Chromium, opened from disk with
every request that is not a file: blocked (and none attempted): hover decodes in both models with
a cross on the maps, a click pins (a dot: its own codes and image), sliders and arrow keys move
the pinned point, the layout reads at 1440x900, and the page's decoder gives torch's pixels
(float32 weights within 1e-5; float16 within 1e-3 of torch run on the rounded weights).

Two pairs: digits MLP models trained a few epochs, and faces-shaped (3, 64, 64) conv models with
a 32-D latent whose decoders get spread-out weights (no training: fast, and pixels far from 0.5).
"""

from __future__ import annotations

import base64

import numpy as np
import pytest
import torch
from browser import data_to_page
from decoders import rounded, spread

from explorer.core.model_pair import ModelPair, build_pair
from explorer.core.points import Point
from explorer.web.standalone import standalone_html
from training.config import TrainConfig
from training.data import DataOptions, load_dataset
from training.fit import fit
from training.models import AE, build_model
from training.presets import default_model_config

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1440, "height": 900}
MARKER = "latent-click-marker"
F32_TOLERANCE = 1e-5
F16_TOLERANCE = 1e-3  # against torch on the float16-rounded weights: the browser's own sums
F16_VS_ORIGINAL = 4e-3  # about one grey level: the rounding of the weights themselves
FRAME = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"


# -- the pairs and the pages ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits_pair() -> ModelPair:
    digits = load_dataset("digits")
    models = []
    for seed, kind in enumerate(("ae", "vae")):
        model = build_model(default_model_config(digits.image_shape, kind), seed=seed)
        fit(model, digits.pixels, TrainConfig(epochs=4, batch_size=128, precision="fp32"))
        models.append(model.eval())
    return build_pair(digits, *models, "digits test pair", max_points=600)


@pytest.fixture(scope="module")
def faces_pair(tmp_path_factory) -> ModelPair:
    with pytest.MonkeyPatch.context() as patch:  # the generated faces cached privately
        patch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path_factory.mktemp("cache")))
        faces = load_dataset("faces", options=DataOptions(limit=300))
    models = [
        spread(build_model(default_model_config(faces.image_shape, kind), seed=seed), seed)
        for seed, kind in enumerate(("ae", "vae"))
    ]
    return build_pair(faces, *models, "faces test pair")


def open_page(browser, path, pair: ModelPair, **options):
    """The pair's page written to path and opened from disk, network blocked; -> (page, the
    non-file requests attempted)."""
    point = Point(tuple(pair.codes["vae"][0]), 0)
    path.write_bytes(standalone_html(pair, point, pair.slider_coordinates, **options))
    context = browser.new_context(viewport=VIEWPORT)
    attempted = []

    def route(route):
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("request", lambda r: r.url.startswith(("file:", "data:")) or attempted.append(r.url))
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    page.goto(path.as_uri())
    page.wait_for_function("window.latentExplorer?.ready", timeout=30_000)
    page.evaluate(FRAME)
    assert errors == []
    return page, attempted


# -- reading the page ----------------------------------------------------------------------------


def canvases(page) -> dict[str, np.ndarray]:
    """The panel's decoded images by caption's first word ("AE", "VAE", "PCA"), RGBA."""
    page.evaluate(FRAME)
    shown = page.evaluate("""() => [...document.querySelectorAll(".lx-cell")].filter((f) =>
        !f.hidden && f.querySelector("canvas")).map((f) => {
            const c = f.querySelector("canvas");
            const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
            return [f.querySelector("figcaption").textContent, Array.from(data)];
        })""")
    return {caption.split()[0].rstrip(","): np.array(rgba) for caption, rgba in shown}


def captions(page) -> list[str]:
    return page.eval_on_selector_all(
        ".lx-cell:not([hidden]) figcaption", "nodes => nodes.map((n) => n.textContent)"
    )


def rgba_of(page, pair: ModelPair, kind: str, z) -> np.ndarray:
    """What the page's own decoder paints for z: RGBA bytes, as toRGBA rounds them."""
    pixels = np.array(page.evaluate("([k, z]) => window.latentExplorer.decode(k, z)", [kind, z]))
    c = pair.dataset.image_shape[0]
    planes = pixels.reshape(c, -1)
    rgb = planes if c == 3 else np.repeat(planes, 3, axis=0)
    rgba = np.vstack([np.rint(rgb * 255), np.full(planes.shape[1], 255)])
    return rgba.T.ravel()


def paints(page, pair: ModelPair, images: dict, kind: str, z) -> bool:
    """Whether the panel's image of kind ("ae", "vae") is z decoded by the page (to 1/255)."""
    return np.abs(images[kind.upper()] - rgba_of(page, pair, kind, list(z))).max() <= 1


def hover_crosses(page) -> dict[str, bool]:
    """Chart key -> whether its hover cross is shown."""
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll(".lx-map")]
        .map((m) => [m.className.match(/st-key-(\\S+)/)[1],
                     !!m.querySelector(".lx-hover-cross:not([hidden])")]))""")


def markers(page) -> dict[str, list[float]]:
    """Chart key -> the pinned cross's centre (data coordinates), from the figure's shapes."""
    return page.evaluate(
        """(name) => Object.fromEntries([...document.querySelectorAll(".lx-map")].map((m) => {
            const shapes = (m.querySelector(".js-plotly-plot").layout.shapes || [])
                .filter((s) => s.name === name);
            return [m.className.match(/st-key-(\\S+)/)[1],
                    shapes.length ? [shapes[0].xanchor, shapes[0].yanchor] : null];
        }))""",
        MARKER,
    )


def hover(page, chart: str, fx: float, fy: float) -> list[float]:
    """Move the mouse to the fraction (fx, fy) of the chart's visible axes; -> data (x, y)."""
    (x0, x1), (y0, y1) = axis_ranges(page, chart)
    xy = [x0 + fx * (x1 - x0), y1 - fy * (y1 - y0)]
    page.mouse.move(*data_to_page(page, chart, *xy))
    page.evaluate(FRAME)
    return xy


def axis_ranges(page, chart: str):
    return page.evaluate(
        """(key) => { const {xaxis, yaxis} =
            document.querySelector(`.st-key-${key} .js-plotly-plot`)._fullLayout;
            return [xaxis.range, yaxis.range]; }""",
        chart,
    )


def to_latent(pair: ModelPair, kind: str, xy) -> list[float]:
    return [float(v) for v in pair.projections[kind].to_latent(np.array([xy]))[0]]


def leave_maps(page) -> None:
    page.mouse.move(5, 5)  # over the title: the panel shows the pinned point again
    page.evaluate(FRAME)


def isolated_point(pair: ModelPair, kind: str) -> int:
    """The plotted point farthest from its nearest neighbour: a click there hits it alone."""
    xy = pair.xy(kind)
    distances = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    return int(distances.min(1).argmax())


def empty_spot(page, pair: ModelPair, kind: str) -> list[float]:
    """Data coordinates on the kind's map farthest from its points, in fractions of the axes."""
    (x0, x1), (y0, y1) = axis_ranges(page, f"map_{kind}")
    scale = np.array([x1 - x0, y1 - y0])
    fractions = (pair.xy(kind) - [x0, y0]) / scale
    grid = np.stack(np.meshgrid(np.linspace(0.1, 0.9, 9), np.linspace(0.1, 0.9, 9)), -1)
    grid = grid.reshape(-1, 2)
    distances = np.linalg.norm(grid[:, None] - fractions[None], axis=-1).min(1)
    assert distances.max() > 0.1  # about 40 px from any point: out of a click's reach
    return [float(v) for v in [x0, y0] + grid[distances.argmax()] * scale]


def in_view(page, selector: str) -> list[bool]:
    return page.eval_on_selector_all(
        selector,
        """(nodes) => nodes.map((n) => { const r = n.getBoundingClientRect();
            return r.width > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight &&
                   r.right <= innerWidth; })""",
    )


# -- the tests -----------------------------------------------------------------------------------


def test_digits_page_hovers_pins_and_moves_like_the_app_offline(browser, tmp_path, digits_pair):
    pair = digits_pair
    page, attempted = open_page(browser, tmp_path / "digits.html", pair, with_pca=True)
    # At 1440x900 the maps sit left, the panel right, all of it in view.
    maps = page.locator(".lx-maps").bounding_box()
    panel = page.locator(".lx-live").bounding_box()
    assert maps["x"] + maps["width"] <= panel["x"]
    assert all(in_view(page, ".js-plotly-plot")) and len(in_view(page, ".js-plotly-plot")) == 3
    assert all(in_view(page, ".lx-cell:not([hidden]) .lx-image"))
    assert all(in_view(page, ".lx-slider input"))
    assert captions(page) == [
        "AE reconstruction",
        "VAE reconstruction",
        "PCA, 2 components",
        "data point #0",
    ]
    # No toolbar button that would send the chart anywhere (Plotly's "Share chart...").
    titles = page.evaluate(
        "() => [...document.querySelectorAll('.modebar-btn')]"
        ".map(b => b.getAttribute('data-title'))"
    )
    assert titles and not [t for t in titles if "Share" in t or "Cloud" in t]

    # Hover the VAE map: both models decode the point under the mouse; crosses on both maps.
    before = canvases(page)
    xy = hover(page, "map_vae", 0.3, 0.4)
    z = to_latent(pair, "vae", xy)
    after = canvases(page)
    for kind in ("AE", "VAE"):
        assert not np.array_equal(before[kind], after[kind])
        assert paints(page, pair, after, kind.lower(), z)
    assert np.array_equal(before["PCA"], after["PCA"])  # PCA's map is another space
    assert hover_crosses(page) == {"map_ae": True, "map_vae": True, "map_pca": False}
    assert captions(page)[:2] == ["AE decodes z", "VAE decodes z"]

    # Click a dot: it is pinned with its own code in each model and its own image.
    i = isolated_point(pair, "vae")
    page.mouse.click(*data_to_page(page, "map_vae", *pair.xy("vae")[i]))
    leave_maps(page)
    assert captions(page) == [
        "AE reconstruction",
        "VAE reconstruction",
        "PCA, 2 components",
        f"data point #{i}",
    ]
    pinned = canvases(page)
    for kind in ("ae", "vae"):
        assert paints(page, pair, pinned, kind, pair.codes[kind][i])
        assert markers(page)[f"map_{kind}"] == pytest.approx(list(pair.xy(kind)[i]), abs=1e-6)

    # Click empty space: that exact spot is pinned, in both models.
    # Whole pixels: the click's event reports them so, and the spot is computed from them.
    px, py = (round(v) for v in data_to_page(page, "map_vae", *empty_spot(page, pair, "vae")))
    page.mouse.click(px, py)
    clicked = page.evaluate(
        """([px, py]) => { const gd = document.querySelector(".st-key-map_vae .js-plotly-plot");
            const {xaxis, yaxis} = gd._fullLayout; const box = gd.getBoundingClientRect();
            return [xaxis.p2d(px - box.left - xaxis._offset),
                    yaxis.p2d(py - box.top - yaxis._offset)]; }""",
        [px, py],
    )
    leave_maps(page)
    assert captions(page) == ["AE decodes z", "VAE decodes z", "PCA, 2 components"]
    z = to_latent(pair, "vae", clicked)
    shown = canvases(page)
    for kind in ("ae", "vae"):
        assert paints(page, pair, shown, kind, z)
        assert markers(page)[f"map_{kind}"] == pytest.approx(clicked, abs=1e-6)

    # Drag a slider: both models follow; its release pins the point and moves the crosses.
    slider = page.locator('.lx-slider input[data-coordinate="0"]')
    low, high = float(slider.get_attribute("min")), float(slider.get_attribute("max"))
    value = low + 0.2 * (high - low)
    before = canvases(page)
    slider.evaluate(
        "(input, v) => { input.value = v; input.dispatchEvent(new Event('input')); }", value
    )
    dragged = canvases(page)
    assert not np.array_equal(before["AE"], dragged["AE"])
    assert not np.array_equal(before["VAE"], dragged["VAE"])
    slider.evaluate("(input) => input.dispatchEvent(new Event('change'))")
    page.evaluate(FRAME)
    moved = float(slider.evaluate("(input) => Number(input.value)"))
    assert markers(page)["map_vae"] == pytest.approx([moved, z[1]], abs=1e-6)

    # Arrow keys nudge the pinned point (the pointer over the panel), then pin it.
    page.mouse.move(panel["x"] + 20, panel["y"] + 20)
    readout = page.text_content(".lx-readout")
    page.keyboard.press("ArrowUp")
    page.evaluate(FRAME)
    assert page.text_content(".lx-readout") != readout
    page.wait_for_function(
        "([y, name]) => document.querySelector('.st-key-map_vae .js-plotly-plot').layout.shapes"
        ".some((s) => s.name === name && s.yanchor > y)",
        arg=[z[1], MARKER],
        timeout=5000,
    )
    assert page.evaluate("window.latentExplorerStats.decodeMs.length") > 0
    assert attempted == []


def test_faces_conv_page_hovers_and_pins_offline(browser, tmp_path, faces_pair):
    pair = faces_pair
    page, attempted = open_page(
        browser, tmp_path / "faces.html", pair, with_pca=False, color_by="Smiling"
    )
    assert all(in_view(page, ".js-plotly-plot"))
    assert all(in_view(page, ".lx-cell:not([hidden]) .lx-image"))
    before = canvases(page)
    xy = hover(page, "map_vae", 0.6, 0.3)
    after = canvases(page)
    z = to_latent(pair, "vae", xy)
    for kind in ("AE", "VAE"):
        assert after[kind].size == 64 * 64 * 4
        assert not np.array_equal(before[kind], after[kind])
        assert paints(page, pair, after, kind.lower(), z)
    crosses = hover_crosses(page)
    assert crosses["map_vae"] and set(crosses) == {"map_ae", "map_vae"}
    # The 32-D faces are too many to carry their images: a clicked dot shows its reconstructions.
    i = isolated_point(pair, "vae")
    page.mouse.click(*data_to_page(page, "map_vae", *pair.xy("vae")[i]))
    leave_maps(page)
    assert captions(page) == ["AE reconstruction", "VAE reconstruction"]
    pinned = canvases(page)
    for kind in ("ae", "vae"):
        assert paints(page, pair, pinned, kind, pair.codes[kind][i])
    assert attempted == []


def torch_pixels(model: AE, points: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        pixels = model.decode(torch.from_numpy(points.astype(np.float32))).numpy()
    return pixels.reshape(len(points), -1)


def decode_in_page(page, kind: str, points: np.ndarray) -> np.ndarray:
    """window.latentExplorer.decode on each point; the pixels come back as float32 bytes in
    base64 (a JSON array of 400k numbers takes Playwright seconds)."""
    text = page.evaluate(
        """([kind, zs]) => {
            const rows = zs.map((z) => window.latentExplorer.decode(kind, z));
            const bytes = new Uint8Array(Float32Array.from(rows.flat()).buffer);
            let binary = "";
            for (let i = 0; i < bytes.length; i += 8192) {
                binary += String.fromCharCode(...bytes.subarray(i, i + 8192));
            }
            return btoa(binary);
        }""",
        [kind, points.astype(np.float64).tolist()],
    )
    return np.frombuffer(base64.b64decode(text), dtype="<f4").reshape(len(points), -1)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("name", ["digits-mlp", "faces-conv"])
def test_the_pages_decoder_gives_torchs_pixels(
    browser, tmp_path, name, dtype, request, record_property
):
    pair = request.getfixturevalue({"digits-mlp": "digits_pair", "faces-conv": "faces_pair"}[name])
    page, attempted = open_page(browser, tmp_path / "page.html", pair, with_pca=False, dtype=dtype)
    assert page.evaluate("window.latentExplorer.dtype") == dtype
    rng = np.random.default_rng(0)
    # Codes of data points and points off the data (the gaps, the prior's tails).
    points = np.vstack(
        [pair.codes["vae"][:4], pair.codes["ae"][:4], rng.normal(size=(8, pair.latent_dim)) * 2.5]
    )
    points = points.astype(np.float32)
    for kind in ("ae", "vae"):
        decoded = decode_in_page(page, kind, points)
        original = pair.models[kind]
        if dtype == "float32":
            error = np.abs(decoded - torch_pixels(original, points)).max()
            record_property(f"{kind}_max_error", float(error))
            print(f"{name} {kind} float32: {error:.2e} vs torch")
            assert error < F32_TOLERANCE, (kind, error)
        else:
            twin = rounded(original, dtype)  # exactly the weights the page holds
            error = np.abs(decoded - torch_pixels(twin, points)).max()
            vs_original = np.abs(decoded - torch_pixels(original, points)).max()
            record_property(f"{kind}_max_error_vs_rounded", float(error))
            record_property(f"{kind}_max_error_vs_float32_model", float(vs_original))
            print(f"{name} {kind} float16: {error:.2e} vs rounded, {vs_original:.2e} vs float32")
            assert error < F16_TOLERANCE, (kind, error)
            assert vs_original < F16_VS_ORIGINAL, (kind, vs_original)
    assert attempted == []
