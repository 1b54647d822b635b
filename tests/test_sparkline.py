"""Signals (1, T, 1) shown as lines: the sparkline raster in Python, the same bytes from the
browser's decoder.js, and every display path (display, png_bytes, tile) using it."""

import io

import numpy as np
import pytest
from node import call_js, ok
from PIL import Image

from explorer.core.display import (
    SPARK_HEIGHT,
    SPARK_INK,
    SPARK_MIDLINE,
    SPARK_PAPER,
    display,
    is_signal,
    png_bytes,
    sparkline,
    tile,
)
from training.data.waves import generate_waves

T = 128
MIDDLE_ROW = 24  # the row of 0.5: floor(0.5 * 47 + 0.5)


def constant(v: float, t: int = T) -> np.ndarray:
    return np.full((1, t, 1), v, np.float32)


def ink_rows(raster: np.ndarray) -> list[list[int]]:
    """For each column, the rows drawn in ink."""
    return [np.flatnonzero(raster[:, k] == SPARK_INK).tolist() for k in range(raster.shape[1])]


def test_a_signal_is_one_channel_one_column_and_at_least_two_steps():
    assert is_signal((1, 128, 1)) and is_signal((1, 2, 1))
    assert not is_signal((1, 1, 1)) and not is_signal((3, 128, 1)) and not is_signal((1, 28, 28))


def test_the_raster_is_t_wide_and_spark_height_tall_with_a_faint_midline():
    raster = sparkline(constant(0.9))
    assert raster.shape == (SPARK_HEIGHT, T) and raster.dtype == np.uint8
    assert (raster[MIDDLE_ROW] == SPARK_MIDLINE).all()
    assert set(np.unique(raster)) == {SPARK_INK, SPARK_MIDLINE, SPARK_PAPER}
    assert SPARK_INK < SPARK_MIDLINE < SPARK_PAPER  # dark line, light paper


@pytest.mark.parametrize(
    "v, row", [(0.0, SPARK_HEIGHT - 1), (1.0, 0), (0.5, MIDDLE_ROW), (0.25, 35), (0.75, 12)]
)
def test_a_constant_signal_is_a_horizontal_line_at_its_row(v, row):
    assert ink_rows(sparkline(constant(v))) == [[row]] * T  # 0 at the bottom, 1 at the top


def test_values_outside_the_unit_interval_are_clipped():
    assert np.array_equal(sparkline(constant(2.5)), sparkline(constant(1.0)))
    assert np.array_equal(sparkline(constant(-3.0)), sparkline(constant(0.0)))
    assert np.array_equal(sparkline(constant(np.nan)), sparkline(constant(0.0)))


def test_a_step_is_joined_by_a_vertical_run_of_ink():
    x = np.where(np.arange(T) < 64, 0.0, 1.0).astype(np.float32)[None, :, None]
    rows = ink_rows(sparkline(x))
    assert rows[63] == list(range(SPARK_HEIGHT))  # the jump, drawn in the column before it
    assert rows[62] == [SPARK_HEIGHT - 1] and rows[64] == [0]


def test_display_and_png_bytes_show_a_signal_as_its_sparkline():
    x = generate_waves(1, seed=3)[0][0] / np.float32(255)
    assert np.array_equal(display(x), sparkline(x))  # 128 px wide: not upscaled at 160
    assert display(x, side=300).shape == (2 * SPARK_HEIGHT, 2 * T)
    decoded = np.asarray(Image.open(io.BytesIO(png_bytes(x))))
    assert np.array_equal(decoded, sparkline(x))


def test_tile_lays_signals_out_as_sparklines():
    x = generate_waves(5, seed=1)[0] / np.float32(255)
    grid = tile(x, 3)
    assert grid.shape == (1, 2 * (SPARK_HEIGHT + 1) - 1, 3 * (T + 1) - 1)
    cell = grid[0, SPARK_HEIGHT + 1 :, T + 1 : 2 * T + 1]  # the fifth signal
    assert np.array_equal(np.round(cell * 255).astype(np.uint8), sparkline(x[4]))
    assert (grid[0, SPARK_HEIGHT] == 1).all() and (grid[0, :, T] == 1).all()  # white gaps
    assert np.array_equal(display(grid), np.round(grid[0] * 255).astype(np.uint8))


def test_images_that_are_not_signals_are_shown_as_before():
    x = np.linspace(0, 1, 16, dtype=np.float32).reshape(1, 4, 4)
    assert display(x, side=4).tolist() == np.round(x[0] * 255).astype(np.uint8).tolist()


def signals_to_compare() -> list[np.ndarray]:
    """Waves, noise inside and outside [0, 1], every rounding boundary of a 48 px raster
    (v = k / 94: (1 - v) * 47 + 1/2 lands on or next to an integer), and short signals."""
    rng = np.random.default_rng(5)
    waves = generate_waves(4, seed=2)[0] / np.float32(255)
    return [
        *waves,
        rng.uniform(-0.3, 1.3, (1, T, 1)).astype(np.float32),
        (np.arange(95, dtype=np.float32) / 94)[None, :, None],
        (np.nextafter(np.arange(95) / 94, 1).astype(np.float32))[None, :, None],
        constant(0.5, 2),
        rng.uniform(0, 1, (1, 7, 1)).astype(np.float32),
    ]


def test_the_browser_draws_the_same_bytes_as_python():
    cases = signals_to_compare()
    results = call_js(*[("toRGBA", {"$f32": x.ravel().tolist()}, list(x.shape)) for x in cases])
    for x, result in zip(cases, results, strict=True):
        raster = sparkline(x)
        rgba = np.array(ok(result), np.uint8).reshape(*raster.shape, 4)
        assert np.array_equal(rgba[..., 0], raster), x.shape
        assert np.array_equal(rgba[..., 1], raster) and np.array_equal(rgba[..., 2], raster)
        assert (rgba[..., 3] == 255).all()


def test_the_browser_sizes_a_signal_canvas_as_python_shows_it():
    shapes = [[1, 128, 1], [1, 7, 1], [1, 28, 28], [3, 64, 64]]
    results = call_js(*[("shownSize", shape) for shape in shapes])
    for shape, result in zip(shapes, results, strict=True):
        h, w = display(np.zeros(shape, np.float32), side=1).shape[:2]
        assert ok(result) == [w, h]


def test_a_sparkline_reads_back_as_its_samples_rows_even_upscaled():
    from sparklines import sample_rows, values

    x = generate_waves(3, seed=5)[0] / np.float32(255)
    for signal in x:
        raster = sparkline(signal)
        rows = np.floor((1 - signal.reshape(-1)) * (SPARK_HEIGHT - 1) + 0.5)
        assert np.array_equal(sample_rows(raster), rows)
        assert np.array_equal(sample_rows(display(signal)), rows)  # upscaled for the page
        assert np.abs(values(raster) - signal.reshape(-1)).max() <= 0.5 / (SPARK_HEIGHT - 1)
