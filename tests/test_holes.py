import numpy as np
import pytest
import torch

from explorer.core.holes import (
    DATA_FACTOR,
    HOLE_THRESHOLD,
    HoleGrid,
    data_spread,
    hole_grid,
    lift,
    reencoding_error,
    view_extent,
)
from explorer.core.latent import Projection, fit_projection

# A toy "image" is the code itself written into a 2 x 2 picture: the encoder reads it back.


def decode_exactly(z: np.ndarray) -> np.ndarray:
    """(N, 2) -> (N, 1, 2, 2) images holding z (a decoder the encoder can invert)."""
    return np.concatenate([z, -z], axis=1).reshape(-1, 1, 2, 2)


def encode_exactly(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), -1)[:, :2]


def decode_within_box(z: np.ndarray, box: float = 1.0) -> np.ndarray:
    """A decoder that never learnt beyond |z| <= box: outside, every point decodes to the same
    image (the one at the origin), so it re-encodes far from where it was decoded."""
    inside = np.all(np.abs(z) <= box, axis=1, keepdims=True)
    return decode_exactly(np.where(inside, z, 0.0))


def square_of_points(half_width: float, n: int = 21) -> np.ndarray:
    xs = np.linspace(-half_width, half_width, n)
    return np.stack(np.meshgrid(xs, xs), -1).reshape(-1, 2)


def test_an_encoder_that_inverts_its_decoder_has_no_holes():
    z = np.random.default_rng(0).normal(size=(100, 2)) * 5
    np.testing.assert_array_equal(reencoding_error(decode_exactly, encode_exactly, z), 0)
    grid = hole_grid(decode_exactly, encode_exactly, fit_projection(z), z, n=16)
    assert grid.error.shape == (16, 16) and np.all(grid.error == 0) and grid.hole_share() == 0


def test_torch_coders_work_as_well():
    layer = torch.nn.Linear(2, 2).double()
    inverse = torch.linalg.inv(layer.weight.detach())
    bias = layer.bias.detach()

    def decode(z):
        with torch.inference_mode():
            return layer(torch.from_numpy(z)).numpy()

    def encode(x):
        return ((torch.from_numpy(x) - bias) @ inverse.T).numpy()

    z = np.random.default_rng(1).normal(size=(50, 2))
    np.testing.assert_allclose(reencoding_error(decode, encode, z), 0, atol=1e-12)


def test_where_the_decoder_only_draws_one_image_the_error_is_the_distance_home():
    z = np.array([[0.5, -0.5], [3.0, 4.0], [-2.0, 0.0]])
    error = reencoding_error(decode_within_box, encode_exactly, z)
    np.testing.assert_allclose(error, [0.0, 5.0, 2.0])


def test_the_grid_shows_the_planted_hole_outside_the_box_and_none_inside():
    data = square_of_points(2.0)  # the view spans about [-2.6, 2.6] on both axes
    grid = hole_grid(decode_within_box, encode_exactly, fit_projection(data), data, n=24)
    x, y = np.meshgrid(grid.xs, grid.ys)
    inside = (np.abs(x) <= 1) & (np.abs(y) <= 1)
    np.testing.assert_array_equal(grid.error[inside], 0)
    expected = np.hypot(x, y) / data_spread(data)  # each outside point decodes to the origin
    np.testing.assert_allclose(grid.error[~inside], expected[~inside])
    assert grid.error[~inside].min() > 0.5
    assert grid.hole_share(0.5) == pytest.approx(np.mean(~inside))
    # Rows run up the y axis, columns along x (Plotly Heatmap's order).
    assert np.all(np.diff(grid.xs) > 0) and np.all(np.diff(grid.ys) > 0)


def test_codes_above_two_dimensions_are_lifted_onto_the_plane_and_measured_there():
    rng = np.random.default_rng(2)
    codes = rng.normal(size=(400, 4)) * [3.0, 2.0, 0.1, 0.1]
    projection = fit_projection(codes)
    lifted = []

    def decode(z):
        lifted.append(z)
        return z + np.array([0.0, 0.0, 7.0, 7.0])  # moves only off the plane (of axes 0 and 1)

    grid = hole_grid(decode, lambda x: x, projection, projection.to_plane(codes), n=8)
    (z,) = lifted
    assert z.shape == (64, 4)
    np.testing.assert_allclose(projection.to_plane(z)[:8, 0], grid.xs)
    np.testing.assert_allclose(grid.error, 0, atol=0.05)  # the plane is nearly axes 0 and 1


def test_errors_are_in_spreads_of_the_data_so_two_scales_share_one_colour_scale():
    # Hand-made: four points at distance 1 from the origin on the axes. var x = var y = 1/2,
    # so the spread is sqrt(1/2); an error of 1 is sqrt(2) spreads.
    data = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    assert data_spread(data) == pytest.approx(np.sqrt(0.5))
    # The "AE" lives on a map 100 times larger than the "VAE": same picture, same colours.
    small = square_of_points(2.0)
    grids = [
        hole_grid(
            lambda z, s=scale: decode_within_box(z, box=s),
            encode_exactly,
            fit_projection(small * scale),
            small * scale,
            n=12,
        )
        for scale in (1.0, 100.0)
    ]
    np.testing.assert_allclose(grids[1].xs, grids[0].xs * 100)
    np.testing.assert_allclose(grids[1].error, grids[0].error, rtol=1e-12)


def test_the_view_is_the_data_percentile_box_with_a_margin():
    data = np.stack([np.linspace(0, 100, 101), np.linspace(-10, 10, 101)], 1)
    (x0, x1), (y0, y1) = view_extent(data, margin=0.5)
    assert (x0, x1) == pytest.approx((1 - 49, 99 + 49))
    assert (y0, y1) == pytest.approx((-9.8 - 9.8, 9.8 + 9.8))


def test_hole_share_counts_points_above_the_threshold():
    grid = HoleGrid(np.arange(2.0), np.arange(2.0), np.array([[0.1, 0.3], [0.6, 2.0]]))
    assert grid.hole_share(0.5) == 0.5 and grid.hole_share(0.25) == 0.75


def test_bad_input_raises():
    with pytest.raises(ValueError):
        reencoding_error(decode_exactly, encode_exactly, np.zeros(2))  # not (N, K)
    with pytest.raises(ValueError):
        reencoding_error(decode_exactly, lambda x: x.reshape(len(x), -1), np.zeros((3, 2)))
    with pytest.raises(ValueError):
        data_spread(np.zeros((5, 3)))
    with pytest.raises(ValueError):
        data_spread(np.ones((5, 2)))  # no spread: nothing to measure in
    identity = Projection(np.zeros(2), np.eye(2))
    with pytest.raises(ValueError):
        hole_grid(decode_exactly, encode_exactly, identity, square_of_points(1.0), n=1)


def test_lifted_grid_points_take_the_nearest_codes_off_plane_coordinates():
    # K = 3 codes in two clusters that differ only off the map's plane (z3 = -5 or +5)
    codes = np.array([[0.0, 0.0, -5.0], [0.1, 0.0, -5.0], [4.0, 0.0, 5.0], [4.1, 0.0, 5.0]])
    projection = Projection(np.zeros(3), np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    plane = np.array([[0.2, 0.5], [3.9, -0.5]])
    lifted = lift(projection, plane, codes)
    np.testing.assert_allclose(lifted, [[0.2, 0.5, -5.0], [3.9, -0.5, 5.0]])
    np.testing.assert_allclose(projection.to_plane(lifted), plane)  # still the same map points
    np.testing.assert_allclose(lift(projection, plane), [[0.2, 0.5, 0], [3.9, -0.5, 0]])


def test_the_threshold_follows_how_far_the_models_own_data_comes_back():
    data = square_of_points(2.0)
    projection = fit_projection(data)
    spread = data_spread(data)

    def decode_off_by(shift):  # every code comes back `shift` further along x
        return lambda z: decode_exactly(z + np.array([shift, 0.0]))

    exact = hole_grid(decode_exactly, encode_exactly, projection, data, n=8, codes=data)
    assert exact.threshold == HOLE_THRESHOLD  # a close round trip keeps the floor
    loose = hole_grid(decode_off_by(1.0), encode_exactly, projection, data, n=8, codes=data)
    assert loose.threshold == pytest.approx(DATA_FACTOR * 1.0 / spread)
    assert loose.hole_share() == 0  # everywhere as far as the data itself: no hole
    assert loose.hole_share(0.5) == 1  # a fixed half spread would call it all a hole
