"""The training time-lapse as a GIF for slides: both maps of the recorded images at each frame,
drawn with NumPy (animation.scatter_image) on the Explore maps' projections and the time-lapse
figure's fixed axes, coloured by class with the app's PALETTE. No Streamlit."""

from __future__ import annotations

import numpy as np

from explorer.core.animation import gif_bytes, rgb, scatter_image, titled_row
from explorer.core.figures import PALETTE
from explorer.core.latent import Projection
from explorer.core.model_pair import KINDS
from explorer.core.timelapse_figure import map_range, projected_frames, thinned
from training.timelapse import Timelapse

MAP_SIDE = 320  # px per map: the GIF is 2 x 320 + 8 px wide and 340 px high
MAX_GIF_FRAMES = 60
FRAME_MS = 200  # as the figure plays
HOLD_MS = 2000  # the trained map stays up this long before the loop starts again


def point_colors(classes: np.ndarray | None, n_points: int) -> np.ndarray:
    """(N, 3) uint8: class i in PALETTE[i], every point in PALETTE[0] without classes."""
    table = np.array([rgb(c) for c in PALETTE], dtype=np.uint8)
    if classes is None:
        return np.repeat(table[:1], n_points, axis=0)
    return table[np.asarray(classes, dtype=int) % len(table)]


def timelapse_frames(
    lapse: Timelapse,
    projections: dict[str, Projection],
    classes: np.ndarray | None = None,
    max_frames: int = MAX_GIF_FRAMES,
    side: int = MAP_SIDE,
) -> tuple[np.ndarray, np.ndarray]:
    """((F, 20 + side, 2 side + 8, 3) uint8 frames, (F,) steps): the AE map beside the VAE map
    under a "step N" line, at most max_frames evenly spread frames, the last included."""
    xy = projected_frames(lapse, projections)
    ranges = {kind: map_range(xy[kind]) for kind in KINDS}
    colors = point_colors(classes, xy["vae"].shape[1])
    steps = lapse.tracks["vae"].steps
    keep = thinned(len(steps), max_frames)
    frames = [
        titled_row(
            [scatter_image(xy[kind][i], colors, *ranges[kind], side=side) for kind in KINDS],
            [kind.upper() for kind in KINDS],
            f"step {int(steps[i])}",
        )
        for i in keep
    ]
    return np.stack(frames), steps[keep]


def timelapse_gif(
    lapse: Timelapse, projections: dict[str, Projection], classes: np.ndarray | None = None
) -> bytes:
    """timelapse_frames as a looping GIF, FRAME_MS per frame and the last held HOLD_MS."""
    frames, _ = timelapse_frames(lapse, projections, classes)
    return gif_bytes(frames, [FRAME_MS] * (len(frames) - 1) + [HOLD_MS])
