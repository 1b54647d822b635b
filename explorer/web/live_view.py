"""What the browser's live decode panel needs (explorer/web/live.js), as plain JSON-ready data:
each map's linear projection (so hover works at any latent size), the pinned point, the
sliders' coordinates and ranges, and the captions. Pure: no Streamlit, no torch."""

from __future__ import annotations

import base64

import numpy as np

from explorer.core import display
from explorer.core.figures import map_key
from explorer.core.latent import Projection
from explorer.core.model_pair import KINDS, ModelPair
from explorer.core.points import Point, slider_ranges

POINT_CAPTIONS = {"ae": "AE decodes z", "vae": "VAE decodes z", "pca": "PCA: hover its map"}


def panel_data(
    pair: ModelPair, point: Point, shown: list[int], with_pca: bool, bundle_id: str
) -> dict:
    """The live panel's data for `point` with sliders for the `shown` coordinates."""
    ranges = slider_ranges(pair.bounds, point.z)
    maps = {map_key(kind): _map(kind, pair.projections[kind]) for kind in KINDS}
    if with_pca:
        maps[map_key("pca")] = _map("pca", _first_two_axes(pair.pca.n_components_))
    data = {
        "bundles": [bundle_id],
        "kinds": [*KINDS, *(["pca"] if with_pca else [])],
        "maps": maps,
        # PCA of the images has a space of its own: hovering the VAE map cannot move it.
        "ownLatent": {"pca": True} if with_pca else {},
        "pinned": {"index": point.index, "z": list(point.z), "codes": None},
        "sliders": {"coords": list(shown), "ranges": [list(ranges[i]) for i in shown]},
        "captions": {"point": POINT_CAPTIONS, "data": _data_captions(pair, point)},
        "original": None,
        "pcaPicture": None,
    }
    if point.index is not None:
        data["pinned"]["codes"] = _codes(pair, point.index, with_pca)
        data["original"] = png_data_url(pair.image(point.index))
        if not with_pca:  # else PCA decodes in the browser like the models
            data["pcaPicture"] = png_data_url(pair.pca_reconstruct(point.index))
    return data


def _map(kind: str, projection: Projection) -> dict:
    return {
        "kind": kind,
        "projection": {
            "mean": projection.mean.tolist(),
            "components": projection.components.tolist(),
        },
    }


def _first_two_axes(n: int) -> Projection:
    """The PCA map shows PCA's first two coordinates: its point decodes with the others at 0."""
    components = np.zeros((2, n))
    components[0, 0] = components[1, 1] = 1.0
    return Projection(np.zeros(n), components)


def _codes(pair: ModelPair, index: int, with_pca: bool) -> dict[str, list[float]]:
    """A data point's own code in each model: each decodes its own reconstruction."""
    codes = {kind: pair.codes[kind][index].tolist() for kind in KINDS}
    if with_pca:
        codes["pca"] = pair.pca.transform(pair.image(index).reshape(1, -1))[0].tolist()
    return codes


def _data_captions(pair: ModelPair, point: Point) -> dict[str, str]:
    return {
        "ae": "AE reconstruction",
        "vae": "VAE reconstruction",
        "pca": f"PCA, {pair.pca.n_components_} components",
        "original": f"data point #{point.index}",
    }


def png_data_url(image: np.ndarray) -> str:
    """(C, H, W) in [0, 1] -> a data: URL of its PNG at its own size (the page upscales it)."""
    png = display.png_bytes(image, side=1)
    return "data:image/png;base64," + base64.b64encode(png).decode()


def scrub_data(
    bundle_id: str,
    start: dict[str, np.ndarray],
    end: dict[str, np.ndarray],
    method: str,
    slider: tuple[str, float, float, float, float],
    captions: dict[str, str],
    strip: int = 0,
) -> dict:
    """A panel with one slider t that decodes each model's point along a path as it moves:
    method "line" (start + t * end: a concept edit, end the step), "lerp" or "slerp" (start to
    end, t in [0, 1]). slider: (label, low, high, step, value); captions per kind may hold
    "{value}", the slider's value as shown. strip > 0 adds each model's strip of that many
    images from -|t| to +|t| (a concept edit's), redrawn as the slider moves."""
    label, low, high, step, value = slider
    if method not in ("line", "lerp", "slerp"):
        raise ValueError(f"method must be line, lerp or slerp, got {method!r}")
    return {
        "bundles": [bundle_id],
        "kinds": list(start),
        "maps": {},
        "ownLatent": {},
        "pinned": {"index": None, "z": None, "codes": None},
        "sliders": {"coords": [], "ranges": []},
        "captions": {"scrub": captions},
        "original": None,
        "scrub": {
            "label": label,
            "range": [low, high],
            "step": step,
            "value": value,
            "method": method,
            "signed": method == "line",
            "decimals": 1 if method == "line" else 2,
            "strip": strip,
            "from": {k: np.asarray(v, dtype=float).tolist() for k, v in start.items()},
            "to": {k: np.asarray(v, dtype=float).tolist() for k, v in end.items()},
        },
    }
