"""The selected point on a model pair: the point at a plotted data point, whether a point fits
the pair, where it sits on each map, and what a click on a map selects. Plain functions, no
Streamlit (explorer/ui/point.py keeps the session and the URL)."""

from __future__ import annotations

import numpy as np

from explorer.core.figures import map_key, map_kind
from explorer.core.model_pair import ModelPair
from explorer.core.points import Point, check_finite


def point_at(pair: ModelPair, index: int, kind: str = "vae") -> Point:
    """Plotted data point index, at its code in kind's model."""
    return Point(tuple(float(v) for v in pair.codes[kind][index]), index)


def fits(pair: ModelPair, point: Point | None) -> bool:
    """Whether point belongs to pair: its latent size, and a data point the pair plots (a point
    kept from another dataset or latent size does not)."""
    return (
        point is not None
        and len(point.z) == pair.latent_dim
        and (point.index is None or point.index < len(pair.indices))
    )


def markers(pair: ModelPair, point: Point) -> dict[str, tuple[float, float]]:
    """Where the point sits on each map, by chart key: a data point at its own code in each
    model, an empty spot at the same z (both decoders get the same numbers)."""
    out = {}
    for kind, projection in pair.projections.items():
        z = pair.codes[kind][point.index] if point.index is not None else np.array(point.z)
        out[map_key(kind)] = tuple(float(v) for v in projection.to_plane(z[None])[0])
    return out


def clicked_point(
    pair: ModelPair, chart: str, x: float, y: float, index: int | None
) -> Point | None:
    """What a click at (x, y) on the map with key chart selects: the data point index when it
    hit one (at its code in that map's model), else the exact spot through the map's inverse
    projection; None for empty space on the PCA map (not a point of the models). Raises
    PointError when the spot is not finite (a huge zoom-out overflows the inverse)."""
    kind = map_kind(chart)
    if index is not None and index < len(pair.indices):
        return point_at(pair, index, kind if kind in pair.codes else "vae")
    if kind not in pair.projections:
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        z = pair.projections[kind].to_latent([[x, y]])[0]
    return Point(check_finite(z))
