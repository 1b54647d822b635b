"""Decode many image files into one uint8 array: any mode made 8-bit grey or RGB, turned upright
(EXIF orientation), square crop, resize to one common size, size and format guards.

Every failure (unreadable, truncated, too large) is a DatasetError that names the file; a folder
asks for such files to be skipped and listed instead. Pillow's global settings are left alone:
ImageFile.LOAD_TRUNCATED_IMAGES stays False so a truncated file raises, and instead of lowering
Image.MAX_IMAGE_PIXELS for every user of Pillow in the process, the header's size is checked here
before any pixel is decoded.
"""

from __future__ import annotations

import io
import math
import struct
import warnings
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from training.data.dataset import DatasetError

MAX_SIDE = 4096  # px; larger is not a dataset image but a mistake or a decompression bomb
MAX_PIXELS = 16_000_000
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
FORMATS = ("PNG", "JPEG")
LIMITS = f"the limit is {MAX_SIDE} px a side, {MAX_PIXELS:,} pixels"
# Modes that hold more than 8 bits of grey: Pillow's convert("L") would clip them at 255.
WIDE_GREY = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
ALPHA_MODES = ("LA", "La", "PA", "RGBA", "RGBa")
QUARTER_TURNS = (5, 6, 7, 8)  # EXIF orientations whose upright image swaps width and height

Box = tuple[float, float, float, float]  # (left, top, right, bottom) in source pixels
CropFn = Callable[[int, int], Box]


def centre_square(w: int, h: int) -> Box:
    """The largest centred square of a w x h image."""
    side = min(w, h)
    return ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)


def image_files(folder: Path) -> list[Path]:
    """The PNG/JPEG files directly in folder (any case of extension), sorted by name."""
    return sorted(
        (p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()),
        key=lambda p: p.name,
    )


def decode_images(
    paths: Sequence[Path],
    size: int,
    grey: bool = False,
    crop: CropFn = centre_square,
    progress: Callable[[int, int], None] | None = None,
    skipped: list[tuple[Path, DatasetError]] | None = None,
) -> np.ndarray:
    """(M, C, size, size) uint8 from the files, of any sizes, each cropped and resized to
    size x size; C is 1 if grey else 3.

    skipped: None, and the first unreadable file raises its DatasetError; a list, and each
    unreadable file is left out (M < N) and appended to it as (path, error), in order.
    progress(done, N) is called about every 0.5% of the files and after the last.
    """
    if not paths:
        raise DatasetError("no images to decode")
    out = np.empty((len(paths), 1 if grey else 3, size, size), dtype=np.uint8)
    every = max(1, len(paths) // 200)  # a few hundred calls: a UI redraws on each
    # One file after another: threads were measured no faster (Pillow held the GIL through
    # decode and resize of these small images), and a process pool would save ~1 s of a one-time
    # cold load at the price of forking a server that may hold torch.
    m = 0  # images decoded so far: the next free row of out
    for i, path in enumerate(paths):
        try:
            _decode_into(out, m, path, size, grey, crop)
            m += 1
        except DatasetError as e:
            if skipped is None:
                raise
            skipped.append((path, e))
        if progress is not None and ((i + 1) % every == 0 or i + 1 == len(paths)):
            progress(i + 1, len(paths))
    return out[:m]


def decode_image_bytes(
    data: bytes, size: int, grey: bool = False, crop: CropFn = centre_square, name: str = "upload"
) -> np.ndarray:
    """(C, size, size) uint8 from one PNG or JPEG file's bytes (an upload), with the same guards
    as a dataset folder's files; errors name the file as `name`."""
    out = np.empty((1, 1 if grey else 3, size, size), dtype=np.uint8)
    _decode_into(out, 0, io.BytesIO(data), size, grey, crop, name=name)
    return out[0]


def _decode_into(
    out: np.ndarray,
    i: int,
    path: Path | io.BytesIO,
    size: int,
    grey: bool,
    crop: CropFn,
    name: str | None = None,
) -> None:
    """Decode path (or an in-memory file, then called `name`) upright into out[i] (C, size,
    size)."""
    name = name or str(path)
    try:
        with _open(path, name) as im:
            w, h = im.size
            if w > MAX_SIDE or h > MAX_SIDE or w * h > MAX_PIXELS:
                raise DatasetError(f"{name}: {w}x{h} px is too large ({LIMITS}); resize it first")
            # A phone stores a photo as its sensor saw it and says in EXIF how to turn it
            # upright; viewers obey, so must we, or a portrait photo comes out on its side.
            orientation = im.getexif().get(ExifTags.Base.Orientation, 1)
            box = crop(h, w) if orientation in QUARTER_TURNS else crop(w, h)  # in upright pixels
            if im.format == "JPEG":
                box = _draft(im, box, size, "L" if grey else "RGB")
            im.load()
            ImageOps.exif_transpose(im, in_place=True)
            x = to_8bit(im, grey).resize((size, size), Image.Resampling.LANCZOS, box=box)
            x = np.asarray(x)
    except UnidentifiedImageError as e:  # its message would show an in-memory file's repr
        raise DatasetError(f"{name}: unreadable image (not a PNG or JPEG file)") from e
    except (OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error) as e:
        # OSError covers a missing file, UnidentifiedImageError and "image file is truncated".
        raise DatasetError(f"{name}: unreadable image ({e or type(e).__name__})") from e
    out[i] = x[None] if grey else x.transpose(2, 0, 1)


def _open(path: Path | io.BytesIO, name: str) -> Image.Image:
    """Image.open for PNG and JPEG only (reads the header, decodes nothing), with Pillow's
    decompression-bomb refusal reworded as ours."""
    # Pillow warns past Image.MAX_IMAGE_PIXELS and raises past twice that, both in its own words
    # about DOS attacks; our limit is far lower, so either is just "too large". (Before Python
    # 3.14 filters are process-wide: racing decodes may leave this one set, which only makes
    # that warning an error elsewhere too.)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            # Only the formats a dataset folder may hold: no other Pillow parser sees the bytes.
            return Image.open(path, formats=FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise DatasetError(
                f"{name}: too large to decode safely (its header claims a huge size; {LIMITS}); "
                "resize it first"
            ) from e


def to_8bit(im: Image.Image, grey: bool = False) -> Image.Image:
    """An 8-bit "L" (grey) or "RGB" image of the same size from a loaded image of any mode:
    16-bit and float grey scaled (see _wide_grey), palettes expanded, CMYK converted, and
    transparent pixels composited onto white."""
    if im.mode in WIDE_GREY:
        im = _wide_grey(im)
    if im.mode in ALPHA_MODES or "transparency" in im.info:
        # White, not black: uploads with alpha are mostly drawings on a transparent canvas,
        # whose hidden colour is often black; on white they read as ink on paper, as viewers
        # show them. Pillow's convert("RGB") would drop the alpha and keep the hidden colour.
        rgba = im.convert("RGBA")  # also applies a palette's or a colour key's transparency
        im = Image.new("RGB", im.size, "white")
        im.paste(rgba, mask=rgba)
    mode = "L" if grey else "RGB"
    return im if im.mode == mode else im.convert(mode)


def _wide_grey(im: Image.Image) -> Image.Image:
    """8-bit "L", or "LA" where a grey value is marked transparent, from a grey image in a
    16-bit ("I;16*"), 32-bit int ("I") or float ("F") mode, whose own convert would clip at 255."""
    x = np.asarray(im)  # (H, W) uint16, int32 or float32
    if im.mode == "F":
        # Pillow's own scale for float images (its F -> L conversion), 0..255. Not guessed from
        # the values (0..1 when the maximum is at most 1): a near-black image would turn white.
        y = np.clip(np.rint(x), 0, 255)
    else:
        # "I" too holds 16 bits here: only a 16-bit grey PNG opens as it (in older Pillow).
        # The high byte is how Pillow itself reduces 16-bit colour PNGs, so a grey file and its
        # RGB copy decode alike, and 257 * v (v widened to 16 bits) comes back as v exactly.
        y = np.clip(x.astype(np.int64), 0, 65535) >> 8
    out = Image.fromarray(y.astype(np.uint8))
    key = im.info.get("transparency")  # a PNG's tRNS: one grey value, in the file's own range
    if isinstance(key, int):
        out = Image.merge("LA", (out, Image.fromarray(np.where(x == key, 0, 255).astype(np.uint8))))
    return out


def _draft(im: Image.Image, box: Box, size: int, mode: str) -> Box:
    """Let libjpeg decode at 1/2, 1/4 or 1/8 scale while the crop still covers `size` pixels;
    returns the crop box in the reduced image's pixels. The box may be in the upright image's
    pixels (sides swapped): the reduction is the same along both sides."""
    w, h = im.size
    scale = size / (box[2] - box[0])
    im.draft(mode, (math.ceil(w * scale), math.ceil(h * scale)))
    k = round(w / im.size[0])  # the DCT reduction factor actually chosen: 1, 2, 4 or 8
    return (box[0] / k, box[1] / k, box[2] / k, box[3] / k)
