"""The Explore page as one self-contained HTML file: a pair's maps with both decoders inside, for a
teacher to hand out or put on a course page. Opened from disk it hovers, pins and decodes like the
app, with no server and no network: Plotly's JavaScript, the page's module (the same click.js
and the modules it imports that the app runs), its CSS, the figures and the weights are all inline.

click.js's `mountComponent` is called as Streamlit would call it; standalone.js (joined after the
component's module) plays Python's part: it answers a click or a released slider by pinning the
point and moving the crosses, in the page. Pure: no Streamlit.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import re

import numpy as np

from explorer.core import figures
from explorer.core.model_pair import KINDS, ModelPair
from explorer.core.points import Point
from explorer.core.selection import markers
from explorer.web import modules, web_decoder
from explorer.web.live_view import panel_data

# The data points' own images go into the file while they are this small (digits: 115 KB; MNIST:
# 2.4 MB); larger ones (3,000 faces: 37 MB) are left out and a clicked dot shows its
# reconstructions only.
ORIGINALS_UP_TO = 2_500_000
# The Explore page's map toolbar, resizing with the window.
MAP_CONFIG = {**figures.MAP_CONFIG, "responsive": True}
# The page's explanation under the maps, its markdown bold as HTML.
GAPS = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(figures.MAP_GAPS_EXPLAINED))


def module_script() -> str:
    """The browser's module, click.js joined with what it imports (decoder.js, live.js, ...), so
    that the listener, the panels and the weights share state: the app registers it as its click
    component (explorer/ui/click.py) and the standalone page inlines it."""
    return modules.join("click.js")


def page_script() -> str:
    """The standalone page's module: module_script(), then standalone.js, which boots the page."""
    return modules.join("standalone.js", after="click.js")


@functools.cache
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def standalone_html(
    pair: ModelPair,
    point: Point,
    shown: list[int],
    with_pca: bool,
    color_by: str | None = None,
    same_scale: bool = True,
    dtype: str | None = None,
) -> bytes:
    """The page, UTF-8: the maps as the Explore page draws them (coloured by class or color_by,
    one scale when same_scale, PCA's map when with_pca), the live panel pinned at point with
    sliders for the `shown` coordinates. dtype: the weights' ("float32", "float16"), None as the
    app sends them. Raises web_decoder.Unsupported when the decoders cannot run in a browser."""
    if dtype is None:
        bundle = web_decoder.pair_bundle(pair, with_pca)
    else:
        bundle = web_decoder.bundle(pair.models, dtype, pca=pair.pca if with_pca else None)
    maps = figures.pair_maps(pair, color_by, same_scale, with_pca)
    data = {
        "figures": {chart: json.loads(fig.to_json()) for chart, fig in maps.items()},
        "config": MAP_CONFIG,
        "live": panel_data(pair, point, shown, with_pca, web_decoder.read_header(bundle)["id"]),
        "marker": {k: list(xy) for k, xy in markers(pair, point).items()},
        "points": _points(pair, with_pca),
        "bundle": base64.b64encode(bundle).decode(),
    }
    page = (
        _TEMPLATE.replace("{title}", html.escape(_title(pair)))
        .replace("{about}", _about(pair))
        .replace("{n_maps}", str(len(maps)))
        .replace("{maps}", "".join(_map_div(chart) for chart in maps))
        .replace("{gaps}", GAPS)
    )
    # Filled last, so that no placeholder is looked for inside the scripts or the data.
    parts = {
        "{css}": modules.read("live.css"),
        "{plotly}": _script_text(_plotly_js()),
        "{data}": json.dumps(data, separators=(",", ":")).replace("<", "\\u003c"),
        "{module}": _script_text(page_script()),
    }
    head, *rest = page.split("\0")
    out = [head]
    for name, text in zip(rest[::2], rest[1::2], strict=True):
        out += [parts[name], text]
    return "".join(out).encode()


def _script_text(js: str) -> str:
    """JavaScript safe inside <script>: "</script" would end the element early."""
    return js.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def _title(pair: ModelPair) -> str:
    return f"Latent Explorer: {pair.dataset.name}, autoencoder (AE) vs VAE"


ARCHITECTURE_WORDS = {
    "mlp": "MLP",
    "conv": "convolutional",
    "residual": "PCA-plus-MLP",
    "gru": "GRU (recurrent)",
    "lstm": "LSTM (recurrent)",
}


def _about(pair: ModelPair) -> str:
    config = pair.models["ae"].config
    arch = ARCHITECTURE_WORDS[config.arch]
    view = (
        f" With {pair.latent_dim} latent coordinates, each map shows a PCA view of the codes."
        if pair.latent_dim > 2
        else ""
    )
    return html.escape(
        f"{pair.dataset.description} Each dot is one image, placed where the encoder puts its "
        f"code: the autoencoder (AE) on the left, the variational autoencoder (VAE) beside it, "
        f"both {arch} with a {pair.latent_dim}-D latent space.{view} "
    ) + (
        "<b>Move the mouse over a map</b>: both models decode the point under it and a cross "
        "marks it on every map. <b>Click</b> to pin a point (a dot shows how both models "
        "rebuild it), <b>drag the sliders</b> to move along one coordinate, and <b>arrow "
        "keys</b> nudge the pinned point. Drag a box to zoom; the toolbar's home button zooms "
        "out. Everything runs in this file: no server, no network."
    )


def _map_div(chart: str) -> str:
    # click.js finds a chart as `.st-key-<key> .js-plotly-plot`, the way Streamlit nests it.
    plot = f'<div class="lx-plot" data-chart="{chart}"></div>'
    return f'<div class="lx-map st-key-{chart}">{plot}</div>'


def _points(pair: ModelPair, with_pca: bool) -> dict:
    """Every plotted point's code in each model (and PCA's), so that a clicked dot pins its own
    codes, as float32 base64 (the encoders' own precision); their images while small."""
    codes = {kind: pair.codes[kind] for kind in KINDS}
    if with_pca:
        codes["pca"] = pair.pca.transform(pair.flat_images())
    pixels = pair.dataset.pixels[pair.indices]
    originals = None
    if pixels.size <= ORIGINALS_UP_TO:
        originals = base64.b64encode(pixels.tobytes()).decode()
    return {
        "codes": {k: _base64_f32(c) for k, c in codes.items()},
        "dims": {k: int(c.shape[1]) for k, c in codes.items()},
        "originals": originals,
        "imageShape": list(pair.dataset.image_shape),
    }


def _base64_f32(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode()


# \0 marks where the big parts go (CSS, scripts, data): filled in one pass, never searched.
_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
:root { --st-primary-color: #ff4b4b; color-scheme: light; }
body { margin: 0; color: #31333f; background: #fff;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.lx-top { padding: 0.9rem 1.5rem 0; }
.lx-top h1 { font-size: 1.5rem; margin: 0 0 0.3rem; }
.lx-top p { margin: 0; font-size: 0.92rem; max-width: 95em; }
.lx-page { display: grid; grid-template-columns: minmax(0, 1fr) minmax(300px, 380px);
  gap: 1.5rem; padding: 0.75rem 1.5rem 1.5rem; align-items: start; }
.lx-maps { display: grid; grid-template-columns: repeat({n_maps}, minmax(0, 1fr)); gap: 0.75rem; }
.lx-plot { width: 100%; height: 460px; }
.lx-note { font-size: 0.875rem; opacity: 0.75; margin: 0.5rem 0 0; }
.lx-problem { color: #b3261e; font-size: 0.875rem; }
@media (max-width: 900px) { .lx-page { grid-template-columns: 1fr; } }
\0{css}\0
</style>
<script>\0{plotly}\0</script>
</head>
<body>
<header class="lx-top"><h1>{title}</h1><p>{about}</p></header>
<main class="lx-page">
<section class="lx-maps-column">
<div class="lx-maps">{maps}</div>
<p class="lx-note">{gaps}</p>
</section>
<aside class="lx-panel"><div class="latent-click-listener"></div></aside>
</main>
<script type="application/json" id="lx-data">\0{data}\0</script>
<script type="module">\0{module}\0</script>
</body>
</html>
"""
