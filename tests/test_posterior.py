import numpy as np
import pytest
import torch

from explorer.core.latent import fit_projection
from explorer.core.posterior import (
    ellipse_axes,
    ellipse_paths,
    map_regions,
    median_by_group,
    posterior_distribution,
    projected_covariance,
    seeded_subset,
    typical_sigma,
)
from training.config import ModelConfig
from training.models import build_model


def rotation(degrees: float) -> np.ndarray:
    a = np.radians(degrees)
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


def rotated_covariance(variances, degrees: float) -> np.ndarray:
    r = rotation(degrees)
    return r @ np.diag(variances) @ r.T


def test_a_rotated_diagonal_covariance_has_its_square_roots_as_half_lengths_at_its_angle():
    cov = np.stack([rotated_covariance([4.0, 1.0], 30), rotated_covariance([1.0, 9.0], -20)])
    half_lengths, angles = ellipse_axes(cov)
    np.testing.assert_allclose(half_lengths, [[2.0, 1.0], [3.0, 1.0]], atol=1e-12)
    # The second's major axis is its y axis, turned by -20 degrees: 70 degrees from x.
    np.testing.assert_allclose(np.degrees(angles), [30.0, 70.0], atol=1e-9)


def test_an_axis_aligned_ellipse_points_along_its_larger_variance():
    half_lengths, angles = ellipse_axes(np.array([np.diag([1.0, 4.0]), np.diag([4.0, 1.0])]))
    np.testing.assert_allclose(half_lengths, [[2.0, 1.0], [2.0, 1.0]])
    np.testing.assert_allclose(np.abs(np.degrees(angles)), [90.0, 0.0], atol=1e-9)


def test_with_two_latent_dimensions_the_identity_projection_keeps_the_variances():
    logvar = np.log(np.array([[0.25, 4.0], [1.0, 0.01]]))
    cov = projected_covariance(logvar, fit_projection(np.random.randn(50, 2)).components)
    np.testing.assert_allclose(cov, [np.diag([0.25, 4.0]), np.diag([1.0, 0.01])])


def test_a_projected_covariance_is_the_covariance_of_projected_samples():
    rng = np.random.default_rng(0)
    logvar = rng.normal(size=(1, 5))
    components = np.linalg.qr(rng.normal(size=(5, 2)))[0].T  # (2, 5) orthonormal rows
    samples = rng.normal(size=(200_000, 5)) * np.exp(0.5 * logvar)
    expected = np.cov(samples @ components.T, rowvar=False)
    np.testing.assert_allclose(projected_covariance(logvar, components)[0], expected, atol=0.02)


def test_every_vertex_of_a_path_lies_on_its_ellipse():
    centres = np.array([[1.0, -2.0], [0.0, 0.0], [5.0, 3.0]])
    cov = np.stack(
        [rotated_covariance([4.0, 1.0], 30), np.diag([0.3, 0.1]), rotated_covariance([2, 5], 77)]
    )
    for n_sigma in (1.0, 2.0):
        x, y = ellipse_paths(centres, cov, n_sigma=n_sigma, n_vertices=24)
        assert x.shape == y.shape == (3 * 26,)
        gaps = np.isnan(x)
        np.testing.assert_array_equal(gaps, np.isnan(y))
        assert np.flatnonzero(gaps).tolist() == [25, 51, 77]  # one NaN after each outline
        points = np.stack([x, y], 1).reshape(3, 26, 2)[:, :25]
        offsets = points - centres[:, None]
        inverse = np.linalg.inv(cov)
        distances = np.einsum("nvi,nij,nvj->nv", offsets, inverse, offsets)
        np.testing.assert_allclose(distances, n_sigma**2, rtol=1e-10)
        outlines = np.stack([x, y], 1).reshape(3, 26, 2)
        np.testing.assert_allclose(outlines[:, 0], outlines[:, 24], atol=1e-12)  # closed


@pytest.mark.parametrize(
    "logvar, components",
    [
        (np.zeros(3), np.eye(2, 3)),  # logvar not (N, K)
        (np.zeros((4, 3)), np.eye(2)),  # K differs
        (np.zeros((4, 3)), np.eye(3)),  # not (2, K)
    ],
)
def test_projecting_mismatched_shapes_raises(logvar, components):
    with pytest.raises(ValueError):
        projected_covariance(logvar, components)


@pytest.mark.parametrize(
    "cov", [np.eye(2), np.zeros((3, 3, 3)), np.array([[[1.0, 0.5], [0.0, 1.0]]])]
)
def test_axes_of_a_non_covariance_raise(cov):
    with pytest.raises(ValueError):
        ellipse_axes(cov)


def test_paths_with_bad_centres_or_options_raise():
    cov = np.stack([np.eye(2)] * 2)
    with pytest.raises(ValueError):
        ellipse_paths(np.zeros((3, 2)), cov)
    with pytest.raises(ValueError):
        ellipse_paths(np.zeros((2, 3)), cov)
    with pytest.raises(ValueError):
        ellipse_paths(np.zeros((2, 2)), cov, n_vertices=2)
    with pytest.raises(ValueError):
        ellipse_paths(np.zeros((2, 2)), cov, n_sigma=0)


def test_typical_sigma_is_the_radius_of_the_circle_of_equal_area():
    cov = np.stack([np.diag([4.0, 1.0]), rotated_covariance([9.0, 1.0], 45)])
    np.testing.assert_allclose(typical_sigma(cov), [np.sqrt(2.0), np.sqrt(3.0)])


def test_medians_by_group_and_map_regions():
    assert median_by_group(np.array([1.0, 2.0, 3.0, 10.0]), np.array([0, 0, 0, 4])) == {
        0: 2.0,
        4: 10.0,
    }
    with pytest.raises(ValueError):
        median_by_group(np.zeros(3), np.zeros(4, dtype=int))
    xy = np.array([[x, y] for y in (-1.0, 0.0, 1.0) for x in (-1.0, 0.0, 1.0)])
    regions, names = map_regions(xy)
    assert [names[r] for r in regions] == [
        "bottom left",
        "bottom",
        "bottom right",
        "left",
        "centre",
        "right",
        "top left",
        "top",
        "top right",
    ]


def test_the_subset_is_seeded_sorted_and_bounded():
    a = seeded_subset(1000, 300, seed=3)
    np.testing.assert_array_equal(a, seeded_subset(1000, 300, seed=3))
    assert len(a) == len(np.unique(a)) == 300 and np.all(np.diff(a) > 0)
    assert len(seeded_subset(50, 300)) == 50


def test_the_encoders_distribution_matches_encode_distribution_batch_by_batch():
    model = build_model(ModelConfig(kind="vae", image_shape=(1, 8, 8), latent_dim=3), seed=0)
    images = np.random.default_rng(0).integers(0, 256, size=(20, 1, 8, 8), dtype=np.uint8)
    mu, logvar = posterior_distribution(model, images, indices=np.array([3, 7]))
    with torch.inference_mode():
        expected = model.eval().encode_distribution(torch.from_numpy(images[[3, 7]]).float() / 255)
    np.testing.assert_allclose(mu, expected[0].numpy(), rtol=1e-6)
    np.testing.assert_allclose(logvar, expected[1].numpy(), rtol=1e-6)
    assert mu.shape == logvar.shape == (2, 3)
