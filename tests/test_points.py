"""The selected point's checks: parsing a URL, refusing non-finite values, clipping far ones."""

import numpy as np
import pytest

from explorer.core.points import (
    Bounds,
    Point,
    PointError,
    clip_to_data,
    important_coordinates,
    parse_point,
    slider_ranges,
)

CODES = np.array([[0.0, -1.0], [2.0, 1.0], [1.0, 0.0]])


def test_parse_point_reads_a_data_point_or_coordinates():
    assert parse_point("i1", CODES) == Point((2.0, 1.0), 1)
    assert parse_point(" 0.5,-1e-3 ", CODES) == Point((0.5, -0.001))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nan,nan", "finite"),
        ("nan,1", "finite"),
        ("inf,0", "finite"),
        ("1e999,0", "finite"),  # float() overflows to inf
        ("1,2,3", "2 numbers"),
        ("a,b", "not a list of numbers"),
        ("i3", "no data point #3"),
        ("ix", "not a list of numbers"),
        ("i-2", "no data point #-2"),
        ("", "not a list of numbers"),
    ],
)
def test_parse_point_refuses_what_cannot_be_decoded_with_a_reason(text, message):
    with pytest.raises(PointError, match=message):
        parse_point(text, CODES)


def test_clip_to_data_keeps_near_points_and_clips_far_ones_to_three_times_the_extent():
    bounds = Bounds.of(CODES)
    assert clip_to_data((0.5, 3.0), bounds) == ((0.5, 3.0), False)
    z, clipped = clip_to_data((1e308, -1e39), bounds)
    assert clipped and z == (4.0, -3.0)  # x spans 0..2, y -1..1: one extent beyond each side


def test_slider_ranges_pad_the_data_and_stretch_to_hold_the_point():
    ranges = slider_ranges(Bounds.of(CODES), (0.0, 2.5))
    assert ranges == [(-0.5, 2.5), (-1.5, 2.5)]


def test_a_constant_coordinate_still_gets_a_slider_with_room():
    low, high = slider_ranges(Bounds.of(np.zeros((5, 1))), (0.0,))[0]
    assert low < 0 < high


def test_important_coordinates_are_those_with_the_largest_share_of_variance_in_each_model():
    rng = np.random.default_rng(0)
    scale = np.ones(12)
    scale[[2, 5, 9]] = 10.0  # the AE uses 2, 5, 9 most; the VAE 5 and 11
    ae = rng.normal(size=(500, 12)) * scale * 100  # another scale altogether
    vae_scale = np.full(12, 0.01)
    vae_scale[[5, 11]] = 1.0
    vae = rng.normal(size=(500, 12)) * vae_scale
    assert important_coordinates(ae, vae, n=4) == [2, 5, 9, 11]
    assert important_coordinates(ae, vae, n=20) == list(range(12))
