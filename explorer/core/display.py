"""Images for display: tiling, nearest-neighbour upscaling and PNG bytes. Pure NumPy + Pillow."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

DISPLAY_SIDE = 160  # small images are upscaled to about this many px, or the browser blurs them


def to_pixels(x: np.ndarray) -> np.ndarray:
    """(C, H, W) float in [0, 1] -> (H, W) or (H, W, 3) uint8."""
    x = np.clip(np.asarray(x, dtype=np.float32), 0, 1)
    pixels = np.round(x * 255).astype(np.uint8)
    return pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0)


def upscale(pixels: np.ndarray, side: int = DISPLAY_SIDE) -> np.ndarray:
    """Repeat each pixel so the longer side reaches about `side` px (sharp, no blur)."""
    factor = max(1, side // max(pixels.shape[:2]))
    return pixels.repeat(factor, 0).repeat(factor, 1)


def tile(images: np.ndarray, n_cols: int, gap: int = 1) -> np.ndarray:
    """(N, C, H, W) -> (C, rows * (H + gap) - gap, n_cols * (W + gap) - gap), in reading order,
    with white gaps between images and white cells after the last image."""
    n, c, h, w = images.shape
    rows = -(-n // n_cols)
    out = np.ones((c, rows * (h + gap) - gap, n_cols * (w + gap) - gap), dtype=np.float32)
    for i, img in enumerate(images):
        r, k = divmod(i, n_cols)
        out[:, r * (h + gap) : r * (h + gap) + h, k * (w + gap) : k * (w + gap) + w] = img
    return out


def display(x: np.ndarray, side: int = DISPLAY_SIDE) -> np.ndarray:
    """(C, H, W) in [0, 1] -> uint8 pixels ready for st.image."""
    return upscale(to_pixels(x), side)


def png_bytes(x: np.ndarray, side: int = DISPLAY_SIDE) -> bytes:
    """(C, H, W) in [0, 1] -> PNG file bytes (upscaled), for downloads."""
    buffer = io.BytesIO()
    Image.fromarray(display(x, side)).save(buffer, format="PNG")
    return buffer.getvalue()
