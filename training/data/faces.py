"""Procedural cartoon faces with known binary attributes: the offline face dataset.

Every face is a stack of implicit shapes (ellipses, curved strokes, rings) evaluated on a pixel
grid that is rotated, shifted and scaled per face, so a chunk of faces renders in a few whole-array
NumPy operations. Attributes are independent coin flips; skin, background, hair shape and pose are
nuisance that a model has to learn to ignore.

The nuisance is kept small enough that a 32-D code has room for the attributes. Version 1 had
shifts of +-2.6 px, saturated backgrounds and 2 px lips: the 16 leading principal components of
the images then told Smiling apart only 60% of the time (chance: 50%), and a 16-D conv VAE no
better. With shifts of +-1.3 px, pastel backgrounds, 3 px lips and flushed cheeks: 83% (99%
with 32 components), and a linear probe on a 32-D conv VAE's codes 86% after 9 epochs (three
fits of 3 epochs).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from training.data.dataset import (
    DataOptions,
    Dataset,
    LoadProgress,
    cache_dir,
    generated_arrays,
    locate_generated,
    seeded_test_mask,
)

ATTRIBUTE_NAMES = ("Smiling", "Eyeglasses", "Blond_Hair", "Mouth_Slightly_Open", "Bangs")
VERSION = 2  # bump whenever the drawing changes: the cache file name carries it
DEFAULT_N_FACES = 20_000
DEFAULT_IMAGE_SIZE = 64
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 16, 256
# Lips about 3 px thick at 64 px (version 1: 2 px), so that a smile survives a blurry decode;
# the module docstring says what else it took for models to encode Smiling.
LIP_WIDTH = 0.05
CHUNK = 256  # faces rendered at once: bounds memory to a few (CHUNK, H, W) float32 arrays

# One uniform draw per name and face; each is mapped to its range in _nuisance.
_NUISANCE_NAMES = (
    "angle", "dx", "dy", "scale", "face_a", "face_b", "skin", "warmth", "bg_r", "bg_g", "bg_b",
    "shirt_r", "shirt_g", "shirt_b", "hair_shade", "hair_a", "hair_b", "hair_len", "part",
    "eye_y", "eye_x", "gaze_x", "gaze_y", "iris", "mouth_y", "frame",
)  # fmt: skip

_SKIN_LIGHT, _SKIN_DARK = np.array([0.98, 0.84, 0.72]), np.array([0.42, 0.27, 0.18])
_HAIR_DARK = np.array([[0.08, 0.06, 0.05], [0.40, 0.22, 0.10]])  # black .. chestnut
_HAIR_BLOND = np.array([[0.98, 0.88, 0.52], [0.86, 0.68, 0.30]])  # platinum .. golden
_IRIS = np.array([[0.25, 0.14, 0.06], [0.20, 0.40, 0.65]])  # brown .. blue
_BLUSH = np.array([0.93, 0.42, 0.45])
_LIPS, _MOUTH, _TEETH = np.array([0.80, 0.20, 0.25]), np.array([0.25, 0.04, 0.06]), np.ones(3)


def _lerp(lo, hi, t):
    """lo + t * (hi - lo), with t (N,) giving (N,) for scalars or (N, 3) for colours."""
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    t = t[:, None] if lo.ndim else t
    return lo + t * (hi - lo)


def _nuisance(u: np.ndarray, attributes: np.ndarray) -> dict[str, np.ndarray]:
    """Per-face drawing parameters from uniforms u (N, len(_NUISANCE_NAMES)) and attributes (N, A).

    Lengths are in face units: the face frame spans about [-1, 1] across the image.
    """
    r = dict(zip(_NUISANCE_NAMES, u.T, strict=True))
    smiling, glasses, blond, mouth_open, bangs = attributes.T.astype(bool)
    warmth = _lerp(-0.03, 0.03, r["warmth"])[:, None] * [1.0, 0.0, -1.0]  # redder .. bluer
    skin = _lerp(_SKIN_LIGHT, _SKIN_DARK, r["skin"]) + warmth
    hair = np.where(
        blond[:, None],
        _lerp(*_HAIR_BLOND, r["hair_shade"]),
        _lerp(*_HAIR_DARK, r["hair_shade"]),
    )
    return {
        "angle": np.deg2rad(_lerp(-3, 3, r["angle"])),
        "dx": _lerp(-0.04, 0.04, r["dx"]),  # +-0.04 is +-1.3 px at 64 px
        "dy": _lerp(-0.03, 0.03, r["dy"]),
        "scale": _lerp(0.94, 1.02, r["scale"]),
        "face_a": _lerp(0.48, 0.58, r["face_a"]),
        "face_b": _lerp(0.60, 0.68, r["face_b"]),
        "hair_a": _lerp(0.06, 0.16, r["hair_a"]),  # how far hair stands out past the face
        "hair_b": _lerp(0.06, 0.16, r["hair_b"]),
        "hair_len": _lerp(0.0, 1.0, r["hair_len"]),  # lowest y of the hair behind the face
        "part": _lerp(-0.15, 0.15, r["part"]),
        "eye_y": _lerp(-0.04, 0.02, r["eye_y"]),
        "eye_x": _lerp(0.20, 0.23, r["eye_x"]),
        "gaze_x": _lerp(-0.025, 0.025, r["gaze_x"]),
        "gaze_y": _lerp(-0.012, 0.012, r["gaze_y"]),
        "mouth_y": _lerp(0.34, 0.39, r["mouth_y"]),
        "skin": skin.clip(0, 1),
        "hair": hair,
        "brow": hair * np.where(blond, 0.7, 0.8)[:, None],
        "iris": _lerp(*_IRIS, r["iris"]),
        "frame": _lerp([0.05, 0.05, 0.05], [0.15, 0.08, 0.30], r["frame"]),
        "background": np.stack([r["bg_r"], r["bg_g"], r["bg_b"]], 1) * 0.3 + 0.55,
        "shirt": np.stack([r["shirt_r"], r["shirt_g"], r["shirt_b"]], 1) * 0.3 + 0.3,
        "smiling": smiling,
        "glasses": glasses,
        "mouth_open": mouth_open,
        "bangs": bangs,
    }


class _Canvas:
    """A chunk of images (C, 3, H, W) float32 and its pixel-centre coordinates in [-1, 1]."""

    def __init__(self, p: dict[str, np.ndarray], size: int):
        self.p, self.size = p, size
        self.t = ((np.arange(size) + 0.5) * (2 / size) - 1).astype(np.float32)
        self.images = np.empty((len(p["angle"]), 3, size, size), np.float32)
        self.images[:] = p["background"][:, :, None, None]

    def frame(self, box: tuple[float, float, float, float]):
        """Face-frame coordinates x, y (C, h, w) over the pixels that box (x0, x1, y0, y1) can
        reach in any face of the chunk, the window (rows, cols) and one pixel in face units (C,1,1).

        Evaluating a small feature only over its window is what keeps rendering fast.
        """
        p = self.p
        cos, sin, s = np.cos(p["angle"]), np.sin(p["angle"]), p["scale"]
        # Where the box's corners land in the image: image = shift + scale * rotate(face).
        bx, by = np.array(box[:2])[:, None, None], np.array(box[2:])[None, :, None]
        rows = self._span(p["dy"] + s * (sin * bx + cos * by))
        cols = self._span(p["dx"] + s * (cos * bx - sin * by))
        # ...and back: face = rotate^-1(image - shift) / scale, for each pixel of the window.
        gx, gy = self.t[None, None, cols] - _f(p["dx"]), self.t[None, rows, None] - _f(p["dy"])
        cos, sin, s = _f(cos), _f(sin), _f(s)
        return (cos * gx + sin * gy) / s, (cos * gy - sin * gx) / s, (rows, cols), 2 / self.size / s

    def _span(self, v: np.ndarray) -> slice:
        """The pixel indices whose centres lie within [v.min(), v.max()], plus a 1 px margin."""
        lo = int(np.floor((v.min() + 1) * self.size / 2)) - 1
        hi = int(np.ceil((v.max() + 1) * self.size / 2)) + 1
        return slice(max(lo, 0), min(hi, self.size))

    def paint(self, window, px, d, colour, alpha=None):
        """Blend colour (C, 3) where the signed distance d (C, h, w) < 0, with a 1 px soft edge."""
        cover = np.clip(0.5 - d / px, 0, 1)
        if alpha is not None:
            cover *= np.asarray(alpha, np.float32).reshape(-1, 1, 1)
        target = self.images[:, :, window[0], window[1]]
        change = colour.astype(np.float32)[:, :, None, None] - target
        change *= cover[:, None]
        target += change


def _ellipse(x, y, cx, cy, a, b):
    """Approximate signed distance (C, h, w) to an axis-aligned ellipse, < 0 inside.

    First-order estimate f / |grad f| of f = u^2 + v^2 - 1: exact on the edge, which is all the
    1 px soft edge needs.
    """
    u, v = (x - cx) / a, (y - cy) / b
    return (u * u + v * v - 1) / (2 * np.sqrt((u / a) ** 2 + (v / b) ** 2) + 1e-6)


def _f(v):
    """(C,) parameter -> (C, 1, 1) float32, to broadcast over a window."""
    return np.asarray(v, np.float32)[:, None, None]


def _draw_head(cv: _Canvas) -> None:
    """Shirt, hair behind the head, neck, face and the hair in front (fringe or hairline)."""
    p = cv.p
    x, y, win, px = cv.frame((-1.5, 1.5, -1.5, 1.5))
    fa, fb = _f(p["face_a"]), _f(p["face_b"])
    cv.paint(win, px, _ellipse(x, y, 0, 1.35, 0.95, 0.6), p["shirt"])
    hair = _ellipse(x, y, 0, 0.02 - _f(p["hair_b"]), fa + _f(p["hair_a"]), fb + _f(p["hair_b"]))
    # Hair behind the head: the crown ellipse, falling straight down to hair_len (bob .. shoulders).
    length = _f(p["hair_len"])
    falls = np.maximum(np.abs(x) - fa - _f(p["hair_a"]) - 0.08 * y, -y)
    cv.paint(win, px, np.maximum(np.minimum(hair, falls), y - length), p["hair"])
    cv.paint(win, px, np.maximum(np.abs(x) - 0.17, 0.3 - y), p["skin"] * 0.82)  # neck
    cv.paint(win, px, _ellipse(x, y, 0, 0.05, fa, fb), p["skin"])
    # The hairline: a fringe down to the eyebrows for Bangs, else high and parted.
    fringe = -0.23 + 0.25 * x * x + 0.015 * np.sin(x * 45)
    parted = -0.50 + 0.8 * (x - _f(p["part"])) ** 2
    hairline = np.where(_f(p["bangs"]), fringe + _f(p["eye_y"]), parted)
    cv.paint(win, px, np.maximum(hair, y - hairline), p["hair"])


def _draw_eyes(cv: _Canvas) -> None:
    """Eyes, irises, eyebrows and (for Eyeglasses) dark frames with a faint lens tint."""
    p = cv.p
    x, y, win, px = cv.frame((-0.68, 0.68, -0.4, 0.2))
    ex, ey, xa = _f(p["eye_x"]), _f(p["eye_y"]), np.abs(x)  # |x|: one shape draws both sides
    cv.paint(win, px, _ellipse(xa, y, ex, ey, 0.095, 0.06), np.ones_like(p["skin"]))
    xi = np.abs(x - _f(p["gaze_x"]))  # both irises look the same way
    cv.paint(win, px, _ellipse(xi, y, ex, ey + _f(p["gaze_y"]), 0.045, 0.045), p["iris"])
    brow_y = ey - 0.17 + 0.04 * ((xa - ex) / 0.11) ** 2
    brow = np.maximum(np.abs(y - brow_y) - 0.022, np.abs(xa - ex) - 0.11)
    cv.paint(win, px, brow, p["brow"])
    glasses = _f(p["glasses"])
    lens = _ellipse(xa, y, ex, ey, 0.16, 0.125)
    cv.paint(win, px, lens, np.full_like(p["skin"], 0.85), alpha=0.25 * p["glasses"])
    bar = np.abs(y - ey + 0.03) - 0.025  # the bridge and the arms run along this line
    arms = np.maximum(bar, np.maximum(ex + 0.15 - xa, xa - _f(p["face_a"]) - 0.02))
    frame = np.minimum(np.abs(lens) - 0.028, np.minimum(np.maximum(bar, xa - ex + 0.15), arms))
    cv.paint(win, px, np.where(glasses, frame, 1.0), p["frame"])


def _draw_mouth(cv: _Canvas) -> None:
    """Nose shadow and the mouth: a wide up-curved arc and flushed cheeks when Smiling, a short
    flat line if not; Mouth_Slightly_Open opens a dark interior below the upper lip (with teeth
    when also smiling)."""
    p = cv.p
    x, y, win, px = cv.frame((-0.4, 0.4, 0.05, 0.62))
    cv.paint(win, px, _ellipse(x, y, 0, 0.18, 0.05, 0.07), p["skin"] * 0.75, alpha=0.6)
    smiling, mouth_open = _f(p["smiling"]), _f(p["mouth_open"])
    for side in (-1, 1):  # a smile lifts and flushes the cheeks
        cheek = _ellipse(x, y, side * 0.3, 0.24, 0.1, 0.07)
        cv.paint(win, px, cheek, np.broadcast_to(_BLUSH, p["skin"].shape), 0.55 * p["smiling"])
    w = np.where(smiling, 0.32, 0.17)
    lift = np.where(smiling, 0.15, -0.02)  # how far the corners rise above the centre
    upper = _f(p["mouth_y"]) + lift * (0.5 - (x / w) ** 2)
    slope = np.sqrt(1 + (2 * lift * x / w**2) ** 2)  # turns vertical gaps into distances
    height = mouth_open * np.where(smiling, 0.15, 0.12)
    lower = upper + height * np.sqrt(np.clip(1 - (x / w) ** 2, 0, 1))
    inside = np.maximum(np.maximum(upper - y, y - lower) / slope, np.abs(x) - w)
    cv.paint(win, px, inside - LIP_WIDTH, _LIPS[None].repeat(len(w), 0))
    cv.paint(win, px, inside, _MOUTH[None].repeat(len(w), 0))
    teeth = np.where(smiling * mouth_open, np.maximum(inside, (y - upper) / slope - 0.04), 1.0)
    cv.paint(win, px, teeth, _TEETH[None].repeat(len(w), 0))


def render_faces(attributes: np.ndarray, image_size: int = DEFAULT_IMAGE_SIZE, seed: int = 0):
    """uint8 (N, 3, H, W) RGB faces showing attributes (N, A) in {0, 1}, ATTRIBUTE_NAMES order.

    The nuisance (pose, colours, hair shape) depends only on seed and the face's index, so the same
    seed with one attribute column flipped draws the same people with only that attribute changed.
    """
    attributes = np.asarray(attributes)
    if attributes.ndim != 2 or attributes.shape[1] != len(ATTRIBUTE_NAMES):
        raise ValueError(f"attributes must be (N, {len(ATTRIBUTE_NAMES)}), got {attributes.shape}")
    _check_size(image_size)
    n = len(attributes)
    # Row by row from its own stream: the first k faces are the same whatever n is.
    u = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1]).random(
        (n, len(_NUISANCE_NAMES))
    )
    p = _nuisance(u, attributes != 0)
    out = np.empty((n, 3, image_size, image_size), np.uint8)

    def render_chunk(start: int) -> None:
        cv = _Canvas({k: v[start : start + CHUNK] for k, v in p.items()}, image_size)
        _draw_head(cv)
        _draw_eyes(cv)
        _draw_mouth(cv)
        out[start : start + CHUNK] = np.round(cv.images.clip(0, 1) * 255)

    # NumPy releases the GIL inside its loops, so threads over chunks use every core.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(render_chunk, range(0, n, CHUNK)))
    return out


def generate_faces(n_samples: int, image_size: int = DEFAULT_IMAGE_SIZE, seed: int = 0):
    """(images, attributes): uint8 (N, 3, H, W) RGB faces and uint8 (N, A) independent 0/1 flips."""
    if not isinstance(n_samples, int | np.integer) or n_samples < 1:
        raise ValueError(f"n_samples must be an integer >= 1, got {n_samples!r}")
    _check_size(image_size)
    attr_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[0])
    attributes = (attr_rng.random((n_samples, len(ATTRIBUTE_NAMES))) < 0.5).astype(np.uint8)
    return render_faces(attributes, image_size, seed), attributes


def _check_size(image_size: int) -> None:
    if not isinstance(image_size, int | np.integer) or not (
        MIN_IMAGE_SIZE <= image_size <= MAX_IMAGE_SIZE
    ):
        raise ValueError(
            f"image_size must be an integer in [{MIN_IMAGE_SIZE}, {MAX_IMAGE_SIZE}], "
            f"got {image_size!r}"
        )


def _cache_path(n_samples: int, image_size: int, seed: int) -> Path:
    return cache_dir() / f"faces-{n_samples}-{image_size}-{seed}-v{VERSION}.npz"


def locate_faces(data_dir: Path | None) -> str:
    """Where the faces come from (data_dir is ignored: they are drawn, not found)."""
    return locate_generated(
        _cache_path(DEFAULT_N_FACES, DEFAULT_IMAGE_SIZE, 0), "generated on first use (about 10 s)"
    )


def load_faces(
    data_dir: Path | None, options: DataOptions, progress: LoadProgress | None = None
) -> Dataset:
    """The procedural faces for options (limit, image_size, seed), from the cache or drawn anew
    (in a few seconds; progress is not reported)."""
    n = options.limit or DEFAULT_N_FACES
    size = options.image_size or DEFAULT_IMAGE_SIZE
    path = _cache_path(n, size, options.seed)
    shapes = {"images": (n, 3, size, size), "attributes": (n, len(ATTRIBUTE_NAMES))}
    arrays = generated_arrays(path, shapes, lambda: generate_faces(n, size, options.seed))
    return Dataset(
        name="faces",
        pixels=arrays["images"],
        test_mask=seeded_test_mask(n),
        description=f"{n:,} procedural cartoon faces, {size}x{size} RGB, with "
        f"{len(ATTRIBUTE_NAMES)} independent known attributes.",
        attributes=arrays["attributes"],
        attribute_names=ATTRIBUTE_NAMES,
        source=f"generated (cached in {path})",
    )
