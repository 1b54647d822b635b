"""Images for display: tiling, nearest-neighbour upscaling and PNG bytes; and names from files,
uploads and URLs made safe to show as text in Markdown and in Plotly. Pure NumPy + Pillow."""

from __future__ import annotations

import html
import io
import re

import numpy as np
from PIL import Image

from training.presets import is_signal

DISPLAY_SIDE = 160  # small images are upscaled to about this many px, or the browser blurs them
# A signal (an "image" of shape (1, T, 1): T time steps, e.g. the waves dataset) is shown as a line
# on a T x SPARK_HEIGHT px raster. explorer/web/decoder.js's sparkline draws the same bytes.
SPARK_HEIGHT = 48
SPARK_PAPER, SPARK_MIDLINE, SPARK_INK = 255, 215, 40  # grey levels: background, y = 0.5, the line
# A name from a user's folder, CSV, JSON or upload is shown cut to this many characters: an
# attribute name is unbounded in a CSV, and 5,000 characters would push the page apart.
MAX_SHOWN = 200
# The ASCII punctuation that Streamlit's Markdown gives a meaning inside a line: emphasis, code,
# links and images, HTML and autolinks (<, >, "www." and "http:"), math ($), entities (&), tables,
# headings, :colour[...] directives and :emoji: codes. A backslash before ASCII punctuation
# shows it literally (CommonMark, "Backslash escapes"). Line breaks are removed first.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_~\[\]<>$&|#:.])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")  # line breaks, NUL, escapes


def to_pixels(x: np.ndarray) -> np.ndarray:
    """(C, H, W) float in [0, 1] -> (H, W) or (H, W, 3) uint8."""
    x = np.clip(np.asarray(x, dtype=np.float32), 0, 1)
    pixels = np.round(x * 255).astype(np.uint8)
    return pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0)


def sparkline(x: np.ndarray, height: int = SPARK_HEIGHT) -> np.ndarray:
    """(1, T, 1) values, 0 at the bottom and 1 at the top -> uint8 (height, T) grey raster: a dark
    line on white with a faint midline at 0.5. Values are clipped to [0, 1] (NaN is 0).

    Column k holds sample k: the pixels from its row to the next sample's row (inclusive), so the
    line is unbroken. Rows are floor((1 - v) * (height - 1) + 1/2) in float64, which JavaScript's
    doubles compute identically (explorer/web/decoder.js sparkline).
    """
    v = np.nan_to_num(np.asarray(x, dtype=np.float64).reshape(-1), nan=0.0).clip(0, 1)
    rows = np.floor((1 - v) * (height - 1) + 0.5).astype(np.int64)  # (T,)
    out = np.full((height, len(v)), SPARK_PAPER, np.uint8)
    out[int(np.floor(0.5 * (height - 1) + 0.5))] = SPARK_MIDLINE
    nxt = np.append(rows[1:], rows[-1])
    low, high = np.minimum(rows, nxt), np.maximum(rows, nxt)
    r = np.arange(height)[:, None]
    out[(r >= low) & (r <= high)] = SPARK_INK
    return out


def shown(images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) in [0, 1] as shown: signals (N, 1, T, 1) become their sparklines
    (N, 1, SPARK_HEIGHT, T) in [0, 1]; other images are returned as they are."""
    if not is_signal(images.shape[1:]):
        return images
    return np.stack([sparkline(x)[None] for x in images]).astype(np.float32) / np.float32(255)


def upscale(pixels: np.ndarray, side: int = DISPLAY_SIDE) -> np.ndarray:
    """Repeat each pixel so the longer side reaches about `side` px (sharp, no blur)."""
    factor = max(1, side // max(pixels.shape[:2]))
    return pixels.repeat(factor, 0).repeat(factor, 1)


def tile(images: np.ndarray, n_cols: int, gap: int = 1) -> np.ndarray:
    """(N, C, H, W) -> (C, rows * (H + gap) - gap, n_cols * (W + gap) - gap), in reading order,
    with white gaps between images and white cells after the last image. Signals (N, 1, T, 1)
    are tiled as their sparklines (1, SPARK_HEIGHT, T)."""
    images = shown(images)
    n, c, h, w = images.shape
    rows = -(-n // n_cols)
    out = np.ones((c, rows * (h + gap) - gap, n_cols * (w + gap) - gap), dtype=np.float32)
    for i, img in enumerate(images):
        r, k = divmod(i, n_cols)
        out[:, r * (h + gap) : r * (h + gap) + h, k * (w + gap) : k * (w + gap) + w] = img
    return out


def display(x: np.ndarray, side: int = DISPLAY_SIDE) -> np.ndarray:
    """(C, H, W) in [0, 1] -> uint8 pixels ready for st.image; a signal (1, T, 1) as its
    sparkline."""
    x = np.asarray(x)
    return upscale(sparkline(x) if is_signal(x.shape) else to_pixels(x), side)


def png_bytes(x: np.ndarray, side: int = DISPLAY_SIDE) -> bytes:
    """(C, H, W) in [0, 1] -> PNG file bytes (upscaled), for downloads."""
    buffer = io.BytesIO()
    Image.fromarray(display(x, side)).save(buffer, format="PNG")
    return buffer.getvalue()


def _shown(text: object, max_chars: int) -> str:
    """str(text) on one line (control characters as one space), cut to max_chars with "…"."""
    text = _CONTROL.sub(" ", str(text))
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def markdown_text(text: object, max_chars: int = MAX_SHOWN) -> str:
    """text to put inside st.markdown, st.caption, st.info/warning/error, a widget's label or
    help: shown literally, never as a link, image, HTML, emphasis or math (Streamlit renders
    all of these), on one line and at most max_chars long."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _shown(text, max_chars))


def plotly_text(text: object, max_chars: int = MAX_SHOWN) -> str:
    """text for a Plotly figure's trace names, titles, tick labels and hover text: Plotly
    renders a subset of HTML there (<a href>, <b>, <br>, entities), so <, > and & are escaped
    and show literally; on one line and at most max_chars long."""
    return html.escape(_shown(text, max_chars), quote=False)
