import io

import numpy as np
from PIL import Image

from explorer.core.display import display, png_bytes, tile, to_pixels, upscale


def test_grey_and_colour_images_become_uint8_pixels():
    grey = np.linspace(0, 1, 16, dtype=np.float32).reshape(1, 4, 4)
    colour = np.zeros((3, 2, 5), dtype=np.float32)
    assert to_pixels(grey).shape == (4, 4) and to_pixels(grey).dtype == np.uint8
    assert to_pixels(grey)[0, 0] == 0 and to_pixels(grey)[-1, -1] == 255
    assert to_pixels(colour).shape == (2, 5, 3)


def test_out_of_range_values_are_clipped():
    assert to_pixels(np.array([[[-1.0, 2.0]]])).tolist() == [[0, 255]]


def test_upscaling_repeats_pixels_without_blurring():
    pixels = np.array([[0, 255], [255, 0]], dtype=np.uint8)
    big = upscale(pixels, side=8)
    assert big.shape == (8, 8)
    assert set(np.unique(big)) == {0, 255}
    assert (big[:4, :4] == 0).all()


def test_tile_lays_images_out_in_reading_order_with_white_gaps():
    images = np.stack([np.full((1, 2, 2), v, dtype=np.float32) for v in (0.0, 0.2, 0.4)])
    grid = tile(images, n_cols=2)
    assert grid.shape == (1, 5, 5)
    assert grid[0, 0, 0] == 0.0 and grid[0, 0, 3] == np.float32(0.2)
    assert grid[0, 3, 0] == np.float32(0.4)
    assert grid[0, 2, 0] == 1.0  # the gap
    assert (grid[0, 3:, 3:] == 1.0).all()  # the empty last cell


def test_png_bytes_decode_back_to_the_displayed_pixels():
    x = np.random.default_rng(0).random((3, 8, 8)).astype(np.float32)
    decoded = np.array(Image.open(io.BytesIO(png_bytes(x, side=32))))
    np.testing.assert_array_equal(decoded, display(x, side=32))
    assert decoded.shape == (32, 32, 3)
