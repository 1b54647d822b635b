"""The slide kit's GIFs: they open, hold the expected frames, keep their colours, loop, and carry
safe names; the time-lapse's maps are drawn where their points are."""

import io
from datetime import datetime

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.core import animation, display
from explorer.core.animation import (
    gif_bytes,
    interpolation_frames,
    scatter_image,
    slide_name,
    there_and_back,
)
from explorer.core.latent import fit_projection
from explorer.core.model_pair import KINDS, build_pair
from explorer.core.timelapse_gif import (
    LEGEND_HEIGHT,
    point_colors,
    timelapse_frames,
    timelapse_gif,
)
from training.config import ModelConfig
from training.models import build_model
from training.timelapse import Timelapse, Track


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "GIF"
    return image


def frames_of(image: Image.Image) -> list[np.ndarray]:
    out = []
    for i in range(image.n_frames):
        image.seek(i)
        out.append(np.asarray(image.convert("RGB")).astype(int))
    return out


def solid_frames(n: int, h: int = 10, w: int = 12) -> np.ndarray:
    """n frames, each one flat colour of its own."""
    colors = np.array([[30 * i % 256, 255 - 20 * i, 100] for i in range(n)], dtype=np.uint8)
    return np.broadcast_to(colors[:, None, None, :], (n, h, w, 3)).copy()


def test_a_gif_opens_with_its_frames_size_durations_and_loop():
    image = opened(gif_bytes(solid_frames(5), 120))
    assert image.n_frames == 5 and image.size == (12, 10)
    assert image.info["loop"] == 0  # forever
    assert image.info["duration"] == 120
    for frame, expected in zip(frames_of(image), solid_frames(5), strict=True):
        assert np.array_equal(frame, expected)


def test_a_gif_without_loop_plays_once_and_takes_a_duration_per_frame():
    image = opened(gif_bytes(solid_frames(3), [100, 200, 900], loop=False))
    assert "loop" not in image.info
    durations = []
    for i in range(3):
        image.seek(i)
        durations.append(image.info["duration"])
    assert durations == [100, 200, 900]


def test_grey_frames_keep_every_level_exactly():
    frames = np.arange(2 * 16 * 16, dtype=np.uint8).reshape(2, 16, 16)  # 0..255, then 0..255
    frames[1] = frames[1][::-1]
    image = opened(gif_bytes(frames, 100))
    for got, expected in zip(frames_of(image), frames, strict=True):
        assert np.array_equal(got[..., 0], expected) and np.array_equal(got[..., 2], expected)


def test_colours_survive_quantisation_on_a_planted_frame():
    """A face-like frame of 4,096 colours (two smooth gradients) with a planted red square:
    the square comes back exact, the rest within a few levels."""
    y, x = np.mgrid[0:64, 0:64]
    frame = np.stack([x * 4, y * 4, (x + y) * 2], axis=-1).astype(np.uint8)
    frame[20:30, 20:30] = (214, 39, 40)
    got = frames_of(opened(gif_bytes(frame[None], 100)))[0]
    assert np.abs(got[20:30, 20:30] - [214, 39, 40]).max() <= 2
    error = np.abs(got - frame.astype(int))
    assert error.mean() < 4 and error.max() <= 16


def test_frames_must_be_uint8_images():
    with pytest.raises(ValueError, match="uint8"):
        gif_bytes(np.zeros((2, 4, 4), dtype=np.float32), 100)
    with pytest.raises(ValueError, match="uint8"):
        gif_bytes(np.zeros((0, 4, 4), dtype=np.uint8), 100)


def test_there_and_back_loops_without_repeating_the_ends():
    assert there_and_back(np.arange(4)).tolist() == [0, 1, 2, 3, 2, 1]
    assert there_and_back(np.arange(2)).tolist() == [0, 1]


def test_slide_names_read_dataset_view_and_date():
    when = datetime(2026, 12, 7, 21, 30)
    assert slide_name("faces", "interpolation", when) == "faces_interpolation_2026-12-07.gif"


@pytest.mark.parametrize("hostile", ["../x", "a/b", "a\\b", "..", ".hidden", "Zürich 猫", "", "/"])
def test_slide_names_are_safe_for_hostile_dataset_names(hostile):
    name = slide_name(hostile, "timelapse", datetime(2026, 1, 2))
    stem = name.removesuffix(".gif")
    assert set(stem) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
    assert not name.startswith((".", "-", "_")) and name.endswith("_timelapse_2026-01-02.gif")


def test_a_planted_point_is_drawn_at_its_pixel():
    xy = np.array([[0.0, 0.0], [0.5, 0.25], [1.0, 1.0]])
    colors = np.array([[1, 2, 3], [214, 39, 40], [4, 5, 6]], dtype=np.uint8)
    image = scatter_image(xy, colors, (0.0, 1.0), (0.0, 1.0), side=101, radius=2)
    assert image.shape == (101, 101, 3)
    row, col = 100 - 25, 50  # y up: y = 0.25 is a quarter above the bottom row
    assert image[row, col].tolist() == [214, 39, 40]
    assert image[row + 2, col].tolist() == [214, 39, 40]  # the disc's edge
    assert image[row + 5, col].tolist() == [255, 255, 255]  # nothing beyond it
    assert image[50, 50].tolist() == [255, 255, 255]


def test_points_are_coloured_by_class_with_the_palette():
    colors = point_colors(np.array([0, 3, 13]), 3)
    assert colors.tolist() == [[31, 119, 180], [214, 39, 40], [214, 39, 40]]
    assert point_colors(None, 2).tolist() == [[31, 119, 180]] * 2


def planted_timelapse(n_frames: int = 5) -> Timelapse:
    """2-D codes: images 1, 2 and 3 still at (-1, -1), (1, 1) and (1, -1); image 0 moves from
    (-1, 0) to (1, 0) across the frames."""
    codes = np.zeros((n_frames, 4, 2), dtype=np.float32)
    codes[:, 1], codes[:, 2], codes[:, 3] = -1, 1, (1, -1)
    codes[:, 0, 0] = np.linspace(-1, 1, n_frames)

    def track() -> Track:
        steps = np.arange(n_frames, dtype=np.int64) * 10
        return Track(steps, codes.copy(), {}, steps, {"recon": np.ones(n_frames, np.float32)})

    return Timelapse("digits", np.arange(4), {"ae": track(), "vae": track()})


def test_time_lapse_frames_put_both_maps_side_by_side_under_their_step():
    lapse = planted_timelapse()
    projections = {kind: fit_projection(np.zeros((1, 2))) for kind in KINDS}  # the identity
    classes = np.array([3, 0, 0, 0])  # image 0 in red
    frames, steps = timelapse_frames(lapse, projections, classes, side=100)
    top = animation.TITLE_HEIGHT
    assert frames.shape == (5, top + 100, 2 * 100 + animation.GAP, 3)
    assert steps.tolist() == [0, 10, 20, 30, 40]
    red = np.all(frames[:, top:] == [214, 39, 40], axis=-1)  # (F, 100, W)
    for f in range(5):
        columns = np.flatnonzero(red[f].any(axis=0))
        left = columns[columns < 100]
        right = columns[columns >= 100 + animation.GAP] - 100 - animation.GAP
        assert np.array_equal(left, right)  # the same codes on both maps
        assert left.mean() == pytest.approx(4.5 + 22.5 * f, abs=1)  # moves right, 5% margins
    assert (frames[:, :top] < 128).any()  # the title line is written


def test_time_lapse_gif_is_thinned_to_at_most_max_frames():
    lapse = planted_timelapse(n_frames=80)
    projections = {kind: fit_projection(np.zeros((1, 2))) for kind in KINDS}
    frames, steps = timelapse_frames(lapse, projections, max_frames=60, side=40)
    assert len(frames) == 60 and steps[0] == 0 and steps[-1] == 790
    image = opened(timelapse_gif(lapse, projections))
    assert image.n_frames == 60 and image.size == (2 * 320 + animation.GAP, 320 + 34)


def test_interpolation_frames_show_both_decodes_there_and_back(digits):
    torch.manual_seed(0)
    models = [build_model(ModelConfig(kind=k, hidden=(16,))) for k in KINDS]
    pair = build_pair(digits, *models, "untrained", max_points=50)
    frames = interpolation_frames(pair, 0, 1, 4, "linear")
    side = animation.IMAGE_SIDE
    assert frames.shape == (6, animation.TITLE_HEIGHT + side, 2 * side + animation.GAP, 3)
    first = display.display(pair.decode("ae", pair.codes["ae"][:1])[0], side)
    assert np.array_equal(frames[0, animation.TITLE_HEIGHT :, :side, 0], first)
    assert np.array_equal(frames[1], frames[5]) and np.array_equal(frames[2], frames[4])
    assert opened(animation.interpolation_gif(pair, 0, 1, 4, "linear")).n_frames == 6


def test_a_legend_of_the_classes_goes_below_the_maps():
    lapse = planted_timelapse()
    projections = {kind: fit_projection(np.zeros((1, 2))) for kind in KINDS}
    names = ("zero", "one", "two", "three", "x" * 5000)  # a hostile name is cut, not drawn wide
    frames, _ = timelapse_frames(lapse, projections, np.array([3, 0, 1, 2]), names, side=100)
    assert frames.shape[1] == animation.TITLE_HEIGHT + 100 + LEGEND_HEIGHT
    strip = frames[0, -LEGEND_HEIGHT:]
    for color in ([31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40]):
        assert np.all(strip == color, axis=-1).any()
