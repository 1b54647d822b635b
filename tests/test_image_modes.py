"""Every image mode a PNG or JPEG opens in becomes the right 8-bit grey or RGB picture, or an error.

The oracle: a known numpy image, saved in mode X (by Pillow, or written here byte by byte where
Pillow cannot write it), decoded, and compared with the colours computed here from the array.
"""

from __future__ import annotations

import io
import math
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from training.data import prepare_image
from training.data.dataset import Dataset, DatasetError
from training.data.imagefiles import decode_image_bytes, decode_images, to_8bit

SIDE = 16  # test images are SIDE x SIDE and decoded at SIDE: no crop, no resampling
PILLOW_WORDING = ("decompression bomb", "dos attack")


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def grey16(seed: int = 0) -> np.ndarray:
    """(SIDE, SIDE) uint16 noise spanning the whole 0..65535 range, both ends included."""
    x = rng(seed).integers(0, 65536, (SIDE, SIDE), dtype=np.uint16)
    x[0, 0], x[0, 1] = 0, 65535
    return x


def chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def png(x: np.ndarray, colour_type: int, depth: int = 8, chunks: bytes = b"", claim=None) -> bytes:
    """A PNG written here, not by Pillow: x (H, W) or (H, W, C) of samples, unfiltered rows;
    16-bit samples go big-endian, 1/2/4-bit ones packed; `claim` (W, H) overrides the header."""
    h, w = x.shape[:2]
    if depth == 16:
        rows = x.astype(">u2").reshape(h, -1).view(np.uint8)
    elif depth == 8:
        rows = x.astype(np.uint8).reshape(h, -1)
    else:  # several samples a byte, the first in the high bits
        per = 8 // depth
        v = x.astype(np.uint8).reshape(h, -1, per)
        rows = sum(v[..., k] << (8 - depth * (k + 1)) for k in range(per)).astype(np.uint8)
    raw = b"".join(b"\0" + r.tobytes() for r in rows)
    ihdr = struct.pack(">IIBBBBB", *(claim or (w, h)), depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunks
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def saved(im: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, fmt, **options)
    return buffer.getvalue()


def decode(data: bytes, grey: bool, name: str = "pic.png") -> np.ndarray:
    """(SIDE, SIDE) uint8 if grey else (SIDE, SIDE, 3): the upload path at the file's own size."""
    x = decode_image_bytes(data, SIDE, grey, name=name)
    return x[0] if grey else x.transpose(1, 2, 0)


def luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601-2 luma, the weights Pillow's "L" conversion documents: (..., 3) -> (...)."""
    return np.rint(rgb.astype(float) @ [0.299, 0.587, 0.114])


def on_white(colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Colour (H, W) or (H, W, 3) composited over white by alpha (H, W), all 0..255."""
    a = (alpha.astype(float) / 255)[..., None] if colour.ndim == 3 else alpha / 255
    return np.rint(colour * a + 255 * (1 - a))


def as_rgb(x: np.ndarray) -> np.ndarray:
    return np.repeat(x[..., None], 3, axis=2) if x.ndim == 2 else x


def assert_decodes_to(data: bytes, rgb: np.ndarray, grey: bool, tol: float = 1) -> None:
    """The file decodes to rgb (H, W, 3) or, if grey, to its luma; within tol grey levels."""
    expected = luma(rgb) if grey else rgb
    got = decode(data, grey).astype(float)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=tol)


# --- 16-bit greyscale: the reported defect ----------------------------------------------------


def sixteen_bit_grey_pngs(x: np.ndarray) -> dict[str, bytes]:
    """The same 16-bit grey picture x (H, W) as Pillow writes it from "I;16" and "I;16B", and
    as written here by hand."""
    return {
        "I;16": saved(Image.fromarray(x)),
        "I;16B": saved(Image.frombytes("I;16B", x.shape[::-1], x.astype(">u2").tobytes())),
        "by hand": png(x, colour_type=0, depth=16),
    }


@pytest.mark.parametrize("grey", [True, False], ids=["grey", "rgb"])
@pytest.mark.parametrize("source", ["I;16", "I;16B", "by hand"])
def test_a_16_bit_grey_png_decodes_like_its_8_bit_version(source, grey):
    x = grey16()
    data = sixteen_bit_grey_pngs(x)[source]
    assert Image.open(io.BytesIO(data)).mode in ("I;16", "I")  # what Pillow opens it as
    assert_decodes_to(data, as_rgb(x >> 8), grey)
    eight_bit = decode(saved(Image.fromarray((x >> 8).astype(np.uint8))), grey)
    np.testing.assert_allclose(decode(data, grey), eight_bit, rtol=0, atol=1)


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I;16L", "I;16N", "I"])
def test_16_bit_values_in_any_wide_integer_mode_are_scaled_not_clipped(mode):
    x = grey16()
    if mode == "I":
        im = Image.fromarray(x.astype(np.int32))
    else:  # not convert(): Pillow's own conversion between 16-bit modes clips at 255 as well
        order = {"I;16B": ">u2", "I;16N": "=u2"}.get(mode, "<u2")
        im = Image.frombytes(mode, x.shape[::-1], x.astype(order).tobytes())
    assert im.mode == mode
    for grey in (True, False):
        y = np.asarray(to_8bit(im, grey))
        np.testing.assert_allclose(y, (x >> 8) if grey else as_rgb(x >> 8), rtol=0, atol=1)


def test_32_bit_int_values_outside_16_bits_are_clipped_to_black_and_white():
    im = Image.fromarray(np.array([[-5, 0, 70_000, 65535]], dtype=np.int32))
    assert np.asarray(to_8bit(im, grey=True)).tolist() == [[0, 0, 255, 255]]


def test_float_images_are_read_on_pillows_0_to_255_scale_and_clipped():
    # Not 0..1: Pillow's own float -> "L" conversion uses 0..255, and guessing the scale from
    # the values (0..1 when the maximum is at most 1) would turn a near-black image white.
    im = Image.fromarray(np.array([[-3.0, 0.6, 0.4, 127.6, 300.0]], dtype=np.float32))
    assert im.mode == "F"
    assert np.asarray(to_8bit(im, grey=True)).tolist() == [[0, 1, 0, 128, 255]]


@pytest.mark.parametrize("grey", [True, False], ids=["grey", "rgb"])
def test_a_16_bit_upload_looks_like_its_8_bit_version_for_digits_and_faces(grey):
    x = grey16(1)
    dataset = dataset_like("digits" if grey else "faces", (1 if grey else 3, 8, 8))
    deep = prepare_image(png(x, colour_type=0, depth=16), dataset, "deep.png")
    flat = prepare_image(saved(Image.fromarray((x >> 8).astype(np.uint8))), dataset, "flat.png")
    np.testing.assert_allclose(deep, flat, rtol=0, atol=1.5 / 255)


def test_a_dataset_folder_of_16_bit_pngs_decodes_through_the_same_conversion(tmp_path):
    paths = []
    for seed in range(2):
        paths.append(tmp_path / f"{seed}.png")
        paths[-1].write_bytes(png(grey16(seed), colour_type=0, depth=16))
    for grey in (True, False):
        x = decode_images(paths, SIDE, grey)
        for i in range(2):
            expected = (grey16(i) >> 8)[None] if grey else as_rgb(grey16(i) >> 8).transpose(2, 0, 1)
            np.testing.assert_allclose(x[i], expected, rtol=0, atol=1)


# --- every mode a PNG or JPEG opens in ---------------------------------------------------------

PALETTE = np.array([[10, 20, 30], [40, 50, 60], [70, 80, 90], [200, 100, 0]], dtype=np.uint8)


def indices(seed: int = 2) -> np.ndarray:
    """(SIDE, SIDE) palette indices 0..3, every one present."""
    i = rng(seed).integers(0, 4, (SIDE, SIDE), dtype=np.uint8)
    i[0, :4] = [0, 1, 2, 3]
    return i


def paletted(**options) -> bytes:
    im = Image.fromarray(indices(), "P")
    im.putpalette(PALETTE.ravel().tolist())
    return saved(im, **options)


def case(name: str) -> tuple[bytes, np.ndarray]:
    """One file in one mode and the colours (SIDE, SIDE, 3) it must decode to, computed here.
    Transparent pixels are expected on white (see to_8bit: drawings on a transparent canvas)."""
    g8 = rng(3).integers(0, 256, (SIDE, SIDE), dtype=np.uint8)
    rgb8 = rng(4).integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)
    a8 = rng(5).integers(0, 256, (SIDE, SIDE), dtype=np.uint8)
    a8[0, :2] = [0, 255]  # fully transparent and fully opaque pixels are both present
    few = PALETTE[indices()]  # an RGB picture of four colours, one of which will be transparent
    x16, a16 = grey16(6), grey16(7)
    c16 = np.stack([grey16(8), grey16(9), grey16(10)], axis=2)
    t16 = int(x16[0, 2])
    white = np.full((SIDE, SIDE, 3), 255.0)
    cases = {
        "1": lambda: (saved(Image.fromarray(g8 > 127)), as_rgb((g8 > 127) * 255)),
        "1 tRNS": lambda: (
            saved(Image.fromarray(g8 > 127), transparency=0),
            as_rgb(np.full((SIDE, SIDE), 255)),  # black is transparent, on white like the rest
        ),
        "L": lambda: (saved(Image.fromarray(g8)), as_rgb(g8)),
        "L 2-bit": lambda: (png(g8 >> 6, colour_type=0, depth=2), as_rgb((g8 >> 6) * 85)),
        "L tRNS": lambda: (
            saved(Image.fromarray(g8), transparency=int(g8[0, 0])),
            np.where(as_rgb(g8) == g8[0, 0], white, as_rgb(g8)),
        ),
        "LA": lambda: (
            saved(Image.fromarray(np.dstack([g8, a8]), "LA")),
            as_rgb(on_white(g8, a8)),
        ),
        "P": lambda: (paletted(), few),
        "P 2-bit": lambda: (paletted(bits=2), few),
        "P tRNS index": lambda: (
            paletted(transparency=1),
            np.where((indices() == 1)[..., None], white, few),
        ),
        "P tRNS alphas": lambda: (
            paletted(transparency=bytes([255, 0, 128, 255])),
            on_white(few, np.array([255, 0, 128, 255])[indices()]),
        ),
        "RGB": lambda: (saved(Image.fromarray(rgb8)), rgb8),
        "RGB tRNS": lambda: (
            saved(Image.fromarray(few), transparency=tuple(int(v) for v in PALETTE[2])),
            np.where((indices() == 2)[..., None], white, few),
        ),
        "RGBA": lambda: (saved(Image.fromarray(np.dstack([rgb8, a8]))), on_white(rgb8, a8)),
        "I;16 tRNS": lambda: (
            png(x16, 0, 16, chunk(b"tRNS", struct.pack(">H", t16))),
            np.where(as_rgb(x16) == t16, white, as_rgb(x16 >> 8)),
        ),
        "LA 16-bit": lambda: (
            png(np.dstack([x16, a16]), colour_type=4, depth=16),
            as_rgb(on_white(x16 >> 8, a16 >> 8)),
        ),
        "RGB 16-bit": lambda: (png(c16, colour_type=2, depth=16), c16 >> 8),
        "RGBA 16-bit": lambda: (
            png(np.dstack([c16, a16]), colour_type=6, depth=16),
            on_white(c16 >> 8, a16 >> 8),
        ),
    }
    return cases[name]()


@pytest.mark.parametrize("grey", [True, False], ids=["grey", "rgb"])
@pytest.mark.parametrize(
    "name",
    [
        "1", "1 tRNS", "L", "L 2-bit", "L tRNS", "LA", "P", "P 2-bit", "P tRNS index",
        "P tRNS alphas", "RGB", "RGB tRNS", "RGBA", "I;16 tRNS", "LA 16-bit", "RGB 16-bit",
        "RGBA 16-bit",
    ],
)  # fmt: skip
def test_every_png_mode_decodes_to_the_right_colours(name, grey):
    data, rgb = case(name)
    assert_decodes_to(data, rgb, grey)


def test_a_drawing_on_a_transparent_canvas_reads_as_ink_on_paper():
    # The canvas's hidden colour is black, as most drawing tools leave it: dropping alpha would
    # turn the page black and hide the black stroke.
    drawing = np.zeros((80, 80, 4), dtype=np.uint8)
    drawing[10:70, 30:50, 3] = 255  # an opaque black stroke
    data = saved(Image.fromarray(drawing))
    faces = prepare_image(data, dataset_like("faces"), "drawing.png")
    assert faces[:, 0, 0].min() > 0.95 and faces[:, 8, 8].max() < 0.05
    digit = prepare_image(data, dataset_like("digits", (1, 8, 8)), "drawing.png")
    assert digit[0, 0, 0] < 0.05 and digit[0, 4, 4] > 0.9  # inverted like any ink on paper


BLOCKS = {  # the 8 x 8 blocks of a 16 x 16 JPEG: CMYK sample -> RGB, as (255 - c)(255 - k) / 255
    (255, 0, 0, 0): (0, 255, 255),
    (0, 0, 0, 128): (127, 127, 127),
    (0, 255, 255, 0): (255, 0, 0),
    (50, 100, 150, 30): (181, 137, 93),
}


def blocks(values) -> np.ndarray:
    """(16, 16, C) of four solid 8 x 8 blocks, one per value (C,)."""
    v = np.array(list(values), dtype=np.uint8)
    return np.repeat(np.repeat(v.reshape(2, 2, -1), 8, axis=0), 8, axis=1)


@pytest.mark.parametrize("grey", [True, False], ids=["grey", "rgb"])
@pytest.mark.parametrize("mode", ["L", "RGB", "CMYK"])
def test_grey_colour_and_cmyk_jpegs_decode_to_the_right_colours(mode, grey):
    rgb = blocks(BLOCKS.values())
    x = {"L": luma(rgb).astype(np.uint8), "RGB": rgb, "CMYK": blocks(BLOCKS)}[mode]
    im = Image.frombytes(mode, (SIDE, SIDE), x.tobytes())
    data = saved(im, "JPEG", quality=95, subsampling=0)
    assert Image.open(io.BytesIO(data)).mode == mode
    expected = luma(rgb) if grey or mode == "L" else rgb
    expected = expected if grey else as_rgb(expected)
    got = decode(data, grey, "pic.jpg")
    centres = (slice(2, 6), slice(10, 14))  # away from the blocks' edges, where JPEG rings
    for r in centres:
        for c in centres:
            np.testing.assert_allclose(got[r, c], expected[r, c], rtol=0, atol=4)


# --- too large: the app's own words, never Pillow's ---------------------------------------------


def jpeg_claiming(w: int, h: int) -> bytes:
    """A tiny JPEG whose frame header claims w x h pixels."""
    data = bytearray(saved(Image.new("L", (8, 8)), "JPEG"))
    sof = data.index(b"\xff\xc0")  # marker, length (2), precision (1), height (2), width (2)
    data[sof + 5 : sof + 9] = struct.pack(">HH", h, w)
    return bytes(data)


def png_claiming(w: int, h: int) -> bytes:
    return png(np.zeros((1, 1), np.uint8), colour_type=0, claim=(w, h))


PILLOW_LIMIT = Image.MAX_IMAGE_PIXELS  # Pillow warns past it and refuses past twice it
HUGE = {
    "over our side": (5000, 10),
    "over our pixels": (4000, 4001),
    "over pillow's warning": (math.isqrt(PILLOW_LIMIT) + 1,) * 2,
    "over pillow's error": (math.isqrt(3 * PILLOW_LIMIT),) * 2,
}


@pytest.mark.parametrize("fmt", ["png", "jpg"])
@pytest.mark.parametrize("size", HUGE.values(), ids=HUGE.keys())
@pytest.mark.parametrize("warnings_as_errors", [False, True], ids=["warn", "W error"])
def test_a_header_claiming_a_huge_image_gets_our_message_not_pillows(fmt, size, warnings_as_errors):
    data = png_claiming(*size) if fmt == "png" else jpeg_claiming(*size)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("error" if warnings_as_errors else "always")
        with pytest.raises(DatasetError, match=rf"^huge\.{fmt}: .*too large") as e:
            decode(data, grey=False, name=f"huge.{fmt}")
    assert not any(w in str(e.value).lower() for w in PILLOW_WORDING), e.value
    assert "4096 px a side" in str(e.value)
    assert not any(issubclass(w.category, Image.DecompressionBombWarning) for w in caught)


def test_a_header_within_our_limits_is_named_with_its_size():
    with pytest.raises(DatasetError, match=r"^huge\.png: 5000x10 px is too large"):
        decode(png_claiming(5000, 10), grey=True, name="huge.png")


@pytest.mark.parametrize("tag", [b"zTXt", b"iCCP"])
def test_a_png_with_a_compressed_chunk_bomb_is_refused_by_name(tag):
    bomb = zlib.compress(b"\0" * (ImageFile.SAFEBLOCK * 4))  # a few KB that inflate to 4 MB
    data = png(grey16() >> 8, colour_type=0, chunks=chunk(tag, b"name\0\0" + bomb))
    with pytest.raises(DatasetError, match=r"^bomb\.png: ") as e:
        decode(data, grey=True, name="bomb.png")
    assert not any(w in str(e.value).lower() for w in PILLOW_WORDING), e.value


# --- weird files: always a DatasetError that names the file -------------------------------------


def chunks_of(data: bytes) -> list[tuple[int, int]]:
    """(start, length) of each PNG chunk's data."""
    spans, at = [], 8
    while at < len(data):
        (n,) = struct.unpack(">I", data[at : at + 4])
        spans.append((at + 8, n))
        at += 12 + n
    return spans


def damaged_png(data: bytes, g: np.random.Generator) -> bytes:
    """A few bytes of one chunk's data changed, its CRC made right again: the parser sees it."""
    out = bytearray(data)
    spans = [s for s in chunks_of(data) if s[1]]
    start, n = spans[g.integers(0, len(spans))]
    for _ in range(g.integers(1, 4)):
        out[start + g.integers(0, n)] = g.integers(0, 256)
    tag_and_data = bytes(out[start - 4 : start + n])
    out[start + n : start + n + 4] = struct.pack(">I", zlib.crc32(tag_and_data))
    return bytes(out)


def damaged_jpeg(data: bytes, g: np.random.Generator) -> bytes:
    out = bytearray(data)
    for _ in range(g.integers(1, 4)):
        out[g.integers(2, len(out))] = g.integers(0, 256)
    return bytes(out)


@pytest.mark.parametrize("fmt", ["png", "jpg"])
def test_damaged_files_decode_or_fail_with_a_dataset_error_naming_them(fmt):
    x = grey16()
    good = (
        png(x, 0, 16, chunk(b"tRNS", struct.pack(">H", int(x[0, 0]))))
        if fmt == "png"
        else saved(Image.fromarray(np.dstack([x >> 8] * 3).astype(np.uint8)), "JPEG")
    )
    g, failed = rng(11), 0
    for i in range(300):
        data = damaged_png(good, g) if fmt == "png" else damaged_jpeg(good, g)
        if i % 10 == 0:  # and now and then cut short as well
            data = data[: g.integers(0, len(data))]
        try:
            decode(data, grey=bool(i % 2), name=f"w.{fmt}")
        except DatasetError as e:
            assert str(e).startswith(f"w.{fmt}: "), e
            failed += 1
    assert failed > 30  # the damage did reach the parsers


BLANK = np.zeros((4, 4))
MALFORMED = {
    "empty": b"",
    "signature only": b"\x89PNG\r\n\x1a\n",
    "colour type 5": png(BLANK, colour_type=5),
    "bit depth 3": png(BLANK, colour_type=0, depth=3),
    "zero width": png(BLANK, colour_type=0, claim=(0, 4)),
    "short tRNS": png(BLANK, colour_type=0, chunks=chunk(b"tRNS", b"\0")),
    "no IDAT": png(BLANK, colour_type=0)[:33] + chunk(b"IEND", b""),
    "IDAT not zlib": png(BLANK, 0)[:33] + chunk(b"IDAT", b"nonsense") + chunk(b"IEND", b""),
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_png_is_a_dataset_error_naming_the_file(data):
    with pytest.raises(DatasetError, match=r"^w\.png: unreadable image"):
        decode(data, grey=False, name="w.png")


def dataset_like(name: str, shape=(3, 16, 16), background: float = 0.0) -> Dataset:
    x = np.full((4, *shape), round(background * 255), dtype=np.uint8)
    return Dataset(name=name, pixels=x, test_mask=np.zeros(4, bool), description="test")
