"""Static export of any Plotly figure for slides: SVG, and PNG at a print resolution, through
kaleido (plotly's exporter), which drives a local Chrome or Chromium (Debian's
/usr/bin/chromium) with no network: plotly.js comes from the plotly package and MathJax is left
out (its default is a CDN). No Streamlit.

One export starts its own headless browser (about 2.5 s on 2 cores) and closes it: no browser
process lives on in the server between clicks. At most EXPORTS_AT_ONCE run together, so a class
clicking at once queues instead of starting thirty browsers.
"""

from __future__ import annotations

import os
import shutil
import struct
import threading
import zlib

import plotly.graph_objects as go

CSS_DPI = 96  # plotly's layout pixels are CSS pixels: 96 to the inch
DPI = 300
SLIDE_INCHES = (40 / 3, 7.5)  # a 16:9 slide, 13.33 x 7.5 in (PowerPoint's and Google's)
EXPORTS_AT_ONCE = 2
BROWSER_ENV = "BROWSER_PATH"  # kaleido's (choreographer's) own override, honoured here too
# Searched on PATH in this order when BROWSER_PATH is unset (choreographer looks for the same).
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
NO_BROWSER = (
    "Slide export needs Chrome or Chromium on the server "
    "(Debian: apt-get install chromium; or set BROWSER_PATH)."
)
_exports = threading.BoundedSemaphore(EXPORTS_AT_ONCE)


class NoBrowserError(RuntimeError):
    """No Chrome or Chromium to export with."""


def find_browser() -> str | None:
    """The browser kaleido will drive: BROWSER_PATH if it names an executable file, else the
    first of BROWSER_NAMES on PATH; None when there is none."""
    named = os.environ.get(BROWSER_ENV)
    if named:
        return named if os.path.isfile(named) and os.access(named, os.X_OK) else None
    return next((path for name in BROWSER_NAMES if (path := shutil.which(name))), None)


def _export(fig: go.Figure, fmt: str, width: float, height: float, scale: float) -> bytes:
    """fig as fmt ("svg", "png") at width x height layout px, scaled by scale."""
    browser = find_browser()
    if browser is None:
        raise NoBrowserError(NO_BROWSER)
    import kaleido  # noqa: PLC0415 only here: importing it costs ~0.2 s, on every page run if above

    opts = {"format": fmt, "width": width, "height": height, "scale": scale}
    with _exports:
        return kaleido.calc_fig_sync(
            fig.to_dict(), opts=opts, kopts={"path": browser, "mathjax": False}
        )


def svg_bytes(fig: go.Figure, inches: tuple[float, float] = SLIDE_INCHES) -> bytes:
    """fig as an SVG document of inches (width, height) at 96 px to the inch."""
    return _export(fig, "svg", inches[0] * CSS_DPI, inches[1] * CSS_DPI, 1)


def png_bytes(fig: go.Figure, inches: tuple[float, float] = SLIDE_INCHES, dpi: int = DPI) -> bytes:
    """fig as a PNG of round(inches * dpi) pixels, laid out as on a 96-dpi screen (fonts and
    markers keep their size relative to the figure), with its dpi in the file (pHYs)."""
    width, height = (round(side * dpi) for side in inches)
    scale = dpi / CSS_DPI
    return with_dpi(_export(fig, "png", width / scale, height / scale, scale), dpi)


def with_dpi(png: bytes, dpi: int) -> bytes:
    """png with a pHYs chunk saying dpi (pixels per metre, as PNG stores it) after its IHDR, so
    that slide software places it at its size in inches. A PNG that has one is returned as is."""
    if b"pHYs" in png[:64]:
        return png
    per_metre = round(dpi / 0.0254)
    data = struct.pack(">IIB", per_metre, per_metre, 1)  # unit 1: the metre
    chunk = struct.pack(">I", len(data)) + b"pHYs" + data
    chunk += struct.pack(">I", zlib.crc32(b"pHYs" + data))
    end_of_ihdr = 8 + 8 + 13 + 4  # signature, IHDR's length and type, its 13 bytes, its CRC
    return png[:end_of_ihdr] + chunk + png[end_of_ihdr:]
