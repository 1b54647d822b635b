"""Animated GIFs for slides: frames as uint8 arrays -> GIF bytes (Pillow, no new dependency),
scatter maps drawn without Plotly (its static export, kaleido, takes seconds an image), the
interpolation's frames, and safe file names. Pure NumPy + Pillow."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import datetime

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from explorer.core import display, latent
from explorer.core.model_pair import KINDS, ModelPair

IMAGE_SIDE = 256  # px per decoded image in a GIF: 8x8 digits and 64x64 faces readable on a slide
TITLE_HEIGHT = 34  # px: the band above the images: a title line, then each panel's label
GAP = 8  # px of white between the panels
INTERP_MS = 250  # per interpolation step
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")  # anything else (separators, dots, unicode) becomes "-"


def gif_bytes(frames: np.ndarray, ms_per_frame: int | Sequence[int], loop: bool = True) -> bytes:
    """(T, H, W, 3) or (T, H, W) uint8 frames -> an animated GIF's bytes, looping forever when
    loop. ms_per_frame: one duration for all frames, or one per frame. Each colour frame gets
    its own 256-colour palette (median cut, no dithering): exact for maps of a few colours,
    within a few levels for faces. Identical consecutive frames are merged into one (Pillow)."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim not in (3, 4) or len(frames) == 0:
        raise ValueError(f"frames must be (T, H, W[, 3]) uint8, got {frames.dtype} {frames.shape}")
    if frames.ndim == 3:  # grey: 256 levels fit a GIF palette exactly
        images = [Image.fromarray(f, mode="L").convert("P") for f in frames]
    else:
        images = [
            Image.fromarray(f).quantize(
                256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
            )
            for f in frames
        ]
    durations = [ms_per_frame] * len(images) if isinstance(ms_per_frame, int) else ms_per_frame
    buffer = io.BytesIO()
    options = {"loop": 0} if loop else {}  # no NETSCAPE block: browsers play it once
    images[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=list(durations),
        disposal=1,
        **options,
    )
    return buffer.getvalue()


def slide_name(dataset: str, view: str, when: datetime, ext: str = "gif") -> str:
    """'faces_interpolation_2026-12-07.gif': letters, digits, '-' and '_' only, so a user's
    folder name cannot add a path separator, a dot or a hidden file."""

    def safe(text: str) -> str:
        return _UNSAFE.sub("-", text).strip("-_")[:60] or "data"

    return f"{safe(dataset)}_{safe(view)}_{when.date().isoformat()}.{ext}"


def rgb(color: str) -> tuple[int, int, int]:
    """'#1f77b4' -> (31, 119, 180)."""
    return tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))


def as_rgb(pixels: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, 3) uint8 -> (H, W, 3) uint8."""
    return np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels


def titled_row(panels: Sequence[np.ndarray], labels: Sequence[str], title: str = "") -> np.ndarray:
    """(H, W[, 3]) uint8 panels of one height side by side on white, GAP px apart, title centred
    on the first line and each panel's label centred above it: -> (TITLE_HEIGHT + H, W, 3)."""
    panels = [as_rgb(p) for p in panels]
    height = max(p.shape[0] for p in panels)
    width = sum(p.shape[1] for p in panels) + GAP * (len(panels) - 1)
    canvas = np.full((TITLE_HEIGHT + height, width, 3), 255, dtype=np.uint8)
    lefts = np.cumsum([0] + [p.shape[1] + GAP for p in panels[:-1]])
    for left, panel in zip(lefts, panels, strict=True):
        canvas[TITLE_HEIGHT : TITLE_HEIGHT + panel.shape[0], left : left + panel.shape[1]] = panel
    image = Image.fromarray(canvas)
    draw, font = ImageDraw.Draw(image), ImageFont.load_default()
    for left, panel, label in zip(lefts, panels, labels, strict=True):
        centred(draw, font, int(left) + panel.shape[1] // 2, TITLE_HEIGHT - 15, label)
    if title:
        centred(draw, font, width // 2, 3, title)
    return np.asarray(image)


def centred(draw: ImageDraw.ImageDraw, font, middle: int, top: int, text: str) -> None:
    """text in black, centred on middle (by its measured width: a bitmap font, Pillow's default
    without FreeType, takes no anchor)."""
    draw.text((middle - draw.textlength(text, font=font) / 2, top), text, fill=(0, 0, 0), font=font)


def there_and_back(frames: np.ndarray) -> np.ndarray:
    """(T, ...) -> (2T - 2, ...): forward, then back without repeating either end, so that a
    looping GIF moves smoothly (T < 3: unchanged)."""
    return frames if len(frames) < 3 else np.concatenate([frames, frames[-2:0:-1]])


def interpolation_frames(
    pair: ModelPair, first: int, second: int, n_steps: int, method: str
) -> np.ndarray:
    """(2 n_steps - 2, H, W, 3) uint8: the AE's and the VAE's decodes along the path from data
    point first to second (latent.interpolate), side by side, there and back."""
    decoded = {
        kind: pair.decode(
            kind,
            latent.interpolate(pair.codes[kind][first], pair.codes[kind][second], n_steps, method),
        )
        for kind in KINDS
    }
    frames = [
        titled_row(
            [display.display(decoded[kind][i], IMAGE_SIDE) for kind in KINDS],
            [kind.upper() for kind in KINDS],
            f"{method}, step {i + 1} of {n_steps}",
        )
        for i in range(n_steps)
    ]
    return there_and_back(np.stack(frames))


def interpolation_gif(pair: ModelPair, first: int, second: int, n_steps: int, method: str) -> bytes:
    """interpolation_frames as a looping GIF, INTERP_MS per step."""
    return gif_bytes(interpolation_frames(pair, first, second, n_steps, method), INTERP_MS)


def scatter_image(
    xy: np.ndarray,
    colors: np.ndarray,
    x_range: Sequence[float],
    y_range: Sequence[float],
    side: int = 320,
    radius: int = 2,
) -> np.ndarray:
    """(N, 2) points with (N, 3) uint8 colours drawn as discs on a white (side, side, 3) uint8
    square, y up, later points on top; points outside the ranges are left out. A grey frame."""
    image = np.full((side, side, 3), 255, dtype=np.uint8)
    scale = (side - 1) / np.maximum([x_range[1] - x_range[0], y_range[1] - y_range[0]], 1e-12)
    cols = np.round((xy[:, 0] - x_range[0]) * scale[0]).astype(int)
    rows = np.round((side - 1) - (xy[:, 1] - y_range[0]) * scale[1]).astype(int)
    inside = (cols >= 0) & (cols < side) & (rows >= 0) & (rows < side)
    cols, rows, colors = cols[inside], rows[inside], np.asarray(colors)[inside]
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dx * dx + dy * dy > radius * radius + radius:
                continue
            r, c = rows + dy, cols + dx
            ok = (r >= 0) & (r < side) & (c >= 0) & (c < side)
            image[r[ok], c[ok]] = colors[ok]  # NumPy assigns in order: the last point wins
    image[[0, -1], :] = image[:, [0, -1]] = 170
    return image
