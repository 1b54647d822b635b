"""The selected point's rules on a pair (explorer/core/selection.py), on untrained models: what
a data point's code is, which points fit the pair, the markers, and what a click selects."""

import numpy as np
import pytest
import torch

from explorer.core.model_pair import build_pair
from explorer.core.points import Point, PointError
from explorer.core.selection import clicked_point, fits, markers, point_at
from training.config import ModelConfig
from training.models import build_model


def untrained_pair(digits, latent_dim: int):
    torch.manual_seed(0)
    ae, vae = (
        build_model(ModelConfig(kind=k, image_shape=digits.image_shape, latent_dim=latent_dim))
        for k in ("ae", "vae")
    )
    return build_pair(digits, ae, vae, "untrained", max_points=200)


@pytest.fixture(scope="module")
def pair(digits):
    return untrained_pair(digits, 2)


@pytest.fixture(scope="module")
def pair_3d(digits):
    return untrained_pair(digits, 3)


def test_a_data_point_is_its_code_in_the_chosen_model(pair):
    assert point_at(pair, 5) == Point(tuple(pair.codes["vae"][5].tolist()), 5)
    assert point_at(pair, 5, "ae").z == pytest.approx(pair.codes["ae"][5])


def test_a_point_fits_a_pair_of_its_latent_size_that_plots_its_data_point(pair):
    assert fits(pair, Point((0.0, 1.0))) and fits(pair, point_at(pair, 199))
    assert not fits(pair, None)
    assert not fits(pair, Point((0.0, 1.0, 2.0)))
    assert not fits(pair, Point((0.0, 1.0), index=200))  # the pair plots 200 points


def test_a_data_point_is_marked_at_its_own_code_on_each_map(pair_3d):
    marks = markers(pair_3d, point_at(pair_3d, 7))
    assert list(marks) == ["map_ae", "map_vae"]
    for kind in ("ae", "vae"):
        assert marks[f"map_{kind}"] == pytest.approx(pair_3d.xy(kind)[7])


def test_an_empty_spot_is_marked_at_the_same_z_on_both_maps(pair):
    marks = markers(pair, Point((1.5, -0.25)))  # 2-D: the maps are the codes themselves
    assert marks == {"map_ae": pytest.approx((1.5, -0.25)), "map_vae": pytest.approx((1.5, -0.25))}


def test_a_click_on_a_dot_selects_that_data_point_in_that_maps_model(pair):
    assert clicked_point(pair, "map_ae", 0.0, 0.0, 3) == point_at(pair, 3, "ae")
    assert clicked_point(pair, "map_pca", 0.0, 0.0, 3) == point_at(pair, 3, "vae")


def test_a_click_on_empty_space_selects_the_exact_spot_through_the_inverse(pair_3d):
    point = clicked_point(pair_3d, "map_vae", 0.5, -0.5, None)
    assert point.index is None
    assert pair_3d.projections["vae"].to_plane(np.array([point.z]))[0] == pytest.approx([0.5, -0.5])
    out_of_range = clicked_point(pair_3d, "map_ae", 0.5, -0.5, 10_000)  # not a plotted point
    assert out_of_range.index is None


def test_empty_space_on_the_pca_map_selects_nothing_and_an_overflow_is_refused(pair):
    assert clicked_point(pair, "map_pca", 0.5, 0.5, None) is None
    with pytest.raises(PointError):
        clicked_point(pair, "map_vae", float("inf"), 0.0, None)
