"""The training time-lapse as a GIF for slides: both maps of the recorded images at each frame,
drawn with NumPy (animation.scatter_image) on the Explore maps' projections and the time-lapse
figure's fixed axes, coloured by class with the app's PALETTE. No Streamlit."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from explorer.core.animation import gif_bytes, rgb, scatter_image, titled_row
from explorer.core.figures import PALETTE
from explorer.core.latent import Projection
from explorer.core.model_pair import KINDS
from explorer.core.timelapse_figure import map_range, projected_frames, thinned
from training.timelapse import Timelapse

MAP_SIDE = 320  # px per map: the GIF is 2 x 320 + 8 px wide and 34 + 320 (+ 18) px high
LEGEND_HEIGHT = 18  # px: the classes' colours and names below the maps
MAX_GIF_FRAMES = 60
FRAME_MS = 200  # as the figure plays
HOLD_MS = 2000  # the trained map stays up this long before the loop starts again


def point_colors(classes: np.ndarray | None, n_points: int) -> np.ndarray:
    """(N, 3) uint8: class i in PALETTE[i], every point in PALETTE[0] without classes."""
    table = np.array([rgb(c) for c in PALETTE], dtype=np.uint8)
    if classes is None:
        return np.repeat(table[:1], n_points, axis=0)
    return table[np.asarray(classes, dtype=int) % len(table)]


def legend(class_names: tuple[str, ...], width: int) -> np.ndarray:
    """(LEGEND_HEIGHT, width, 3) uint8: a square in each class's colour and its name (cut to 16
    characters), left to right, as many as fit."""
    image = Image.new("RGB", (width, LEGEND_HEIGHT), "white")
    draw, font = ImageDraw.Draw(image), ImageFont.load_default()
    left = 4
    for i, name in enumerate(class_names):
        text = str(name)[:16]
        size = 10 + 4 + int(draw.textlength(text, font=font)) + 12
        if left + size > width:
            break
        draw.rectangle((left, 4, left + 9, 13), fill=PALETTE[i % len(PALETTE)])
        draw.text((left + 14, 3), text, fill=(0, 0, 0), font=font)
        left += size
    return np.asarray(image)


def timelapse_frames(
    lapse: Timelapse,
    projections: dict[str, Projection],
    classes: np.ndarray | None = None,
    class_names: tuple[str, ...] = (),
    max_frames: int = MAX_GIF_FRAMES,
    side: int = MAP_SIDE,
) -> tuple[np.ndarray, np.ndarray]:
    """((F, 34 + side (+ 18), 2 side + 8, 3) uint8 frames, (F,) steps): the AE map beside the
    VAE map under a "step N" line, with the classes' legend below them where classes and
    class_names are given; at most max_frames evenly spread frames, the last included."""
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
    if classes is not None and class_names:
        below = legend(class_names, frames[0].shape[1])
        frames = [np.concatenate([frame, below]) for frame in frames]
    return np.stack(frames), steps[keep]


def timelapse_gif(
    lapse: Timelapse,
    projections: dict[str, Projection],
    classes: np.ndarray | None = None,
    class_names: tuple[str, ...] = (),
) -> bytes:
    """timelapse_frames as a looping GIF, FRAME_MS per frame and the last held HOLD_MS."""
    frames, _ = timelapse_frames(lapse, projections, classes, class_names)
    return gif_bytes(frames, [FRAME_MS] * (len(frames) - 1) + [HOLD_MS])
