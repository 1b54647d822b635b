import numpy as np
import pytest

from explorer.core.latent import (
    fit_projection,
    grid_points,
    interpolate,
    lerp,
    nearest,
    prior_quantile_grid,
    sample_prior,
    slerp,
)


@pytest.fixture
def codes():
    rng = np.random.default_rng(0)
    # 5-D codes with most variance in two directions
    return rng.normal(size=(500, 5)) * np.array([5.0, 3.0, 0.5, 0.2, 0.1]) + 1.0


def test_two_dimensional_codes_are_plotted_as_they_are():
    z = np.random.default_rng(1).normal(size=(10, 2))
    p = fit_projection(z)
    assert p.is_identity
    np.testing.assert_array_equal(p.to_plane(z), z)
    np.testing.assert_array_equal(p.to_latent(z), z)


def test_projection_axes_are_orthonormal_and_follow_the_largest_variance(codes):
    p = fit_projection(codes)
    np.testing.assert_allclose(p.components @ p.components.T, np.eye(2), atol=1e-12)
    assert abs(p.components[0, 0]) > 0.99 and abs(p.components[1, 1]) > 0.99


def test_inverse_projection_round_trips_on_the_plane(codes):
    p = fit_projection(codes)
    xy = np.array([[0.5, -1.0], [3.0, 2.0]])
    np.testing.assert_allclose(p.to_plane(p.to_latent(xy)), xy, atol=1e-12)


def test_inverse_projection_with_a_base_code_restores_it_exactly(codes):
    p = fit_projection(codes)
    z = codes[7]
    np.testing.assert_allclose(p.to_latent(p.to_plane(z[None]), base=z)[0], z, atol=1e-12)


def test_moving_on_the_map_moves_only_the_plane_part_of_a_code(codes):
    p = fit_projection(codes)
    z = codes[3]
    moved = p.to_latent(p.to_plane(z[None]) + [1.0, 0.0], base=z)[0]
    np.testing.assert_allclose(moved - z, p.components[0], atol=1e-12)


def test_one_dimensional_codes_draw_on_a_line():
    z = np.arange(4.0)[:, None]
    p = fit_projection(z)
    np.testing.assert_array_equal(p.to_plane(z), np.c_[z, np.zeros(4)])
    np.testing.assert_array_equal(p.to_latent(np.array([[2.5, 7.0]])), [[2.5]])


def test_projection_is_deterministic(codes):
    a, b = fit_projection(codes), fit_projection(codes.copy())
    np.testing.assert_array_equal(a.components, b.components)


def test_grid_points_run_in_reading_order_over_the_ranges():
    g = grid_points((0, 1), (10, 20), 3)
    assert g.shape == (9, 2)
    np.testing.assert_array_equal(g[0], [0, 20])  # top left
    np.testing.assert_array_equal(g[2], [1, 20])  # top right
    np.testing.assert_array_equal(g[-1], [1, 10])  # bottom right
    with pytest.raises(ValueError, match="n must be"):
        grid_points((0, 1), (0, 1), 0)


def test_prior_quantile_grid_is_symmetric_with_equal_mass_steps():
    g = prior_quantile_grid(5)
    xs = np.unique(g[:, 0])
    np.testing.assert_allclose(xs, -xs[::-1], atol=1e-12)
    assert xs[-1] == pytest.approx(1.6449, abs=1e-3)  # the 95% quantile of N(0, 1)


def test_lerp_and_slerp_keep_the_endpoints():
    a, b = np.array([1.0, 0.0, 2.0]), np.array([-1.0, 3.0, 0.5])
    for f in (lerp, slerp):
        path = f(a, b, np.array([0.0, 1.0]))
        np.testing.assert_allclose(path[0], a, atol=1e-12)
        np.testing.assert_allclose(path[1], b, atol=1e-12)


def test_slerp_interpolates_the_norm_linearly_and_stays_on_the_arc():
    a, b = np.array([2.0, 0.0]), np.array([0.0, 4.0])
    path = slerp(a, b, np.linspace(0, 1, 5))
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), [2, 2.5, 3, 3.5, 4], atol=1e-12)
    angles = np.arctan2(path[:, 1], path[:, 0])
    np.testing.assert_allclose(np.diff(angles), np.pi / 8, atol=1e-12)


def test_slerp_between_opposite_gaussian_codes_keeps_their_norm_while_lerp_collapses():
    a = np.random.default_rng(2).normal(size=64)
    mid_slerp = slerp(a, -a * 1.0 + 1e-3, np.array([0.5]))[0]
    mid_lerp = lerp(a, -a, np.array([0.5]))[0]
    assert np.linalg.norm(mid_lerp) < 1e-12
    assert np.linalg.norm(mid_slerp) > 0.9 * np.linalg.norm(a)


def test_slerp_falls_back_to_lerp_for_parallel_or_zero_vectors():
    a = np.array([1.0, 1.0])
    t = np.linspace(0, 1, 4)
    np.testing.assert_allclose(slerp(a, 3 * a, t), lerp(a, 3 * a, t))
    np.testing.assert_allclose(slerp(np.zeros(2), a, t), lerp(np.zeros(2), a, t))


def test_interpolate_checks_its_arguments():
    a, b = np.zeros(2), np.ones(2)
    assert interpolate(a, b, 7, "spherical").shape == (7, 2)
    with pytest.raises(ValueError, match="n_steps"):
        interpolate(a, b, 1)
    with pytest.raises(ValueError, match="method"):
        interpolate(a, b, 3, "cubic")


def test_prior_samples_are_standard_normal_and_seeded():
    a = sample_prior(20_000, 3, np.random.default_rng(5))
    assert a.shape == (20_000, 3)
    assert abs(a.mean()) < 0.02 and abs(a.std() - 1) < 0.02
    np.testing.assert_array_equal(a, sample_prior(20_000, 3, np.random.default_rng(5)))


def test_nearest_finds_the_closest_point():
    points = np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]])
    assert nearest(points, np.array([0.9, 1.2])) == (1, pytest.approx(np.hypot(0.1, 0.2)))
