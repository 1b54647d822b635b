"""What Python accepts from the click component's browser side: clicks and view reports are
checked and typed, anything malformed is dropped (no browser needed)."""

import pytest

from explorer.ui.click import parse_click, parse_view

CHARTS = ["map_a", "map_b"]


def test_parse_click_types_a_valid_click():
    value = {"chart": "map_a", "x": 1, "y": -2.5, "point_index": 3, "seq": 7}
    assert parse_click(value, CHARTS) == {
        "chart": "map_a",
        "x": 1.0,
        "y": -2.5,
        "point_index": 3,
        "seq": 7,
    }


@pytest.mark.parametrize(
    "value",
    [
        None,
        "click",
        {"chart": "other", "x": 0, "y": 0, "point_index": None, "seq": 1},
        {"chart": "map_a", "x": "nan", "y": 0, "point_index": None, "seq": 1},
        {"chart": "map_a", "x": 0, "y": None, "point_index": None, "seq": 1},
        {"chart": "map_a", "x": 0, "y": 0, "point_index": "a", "seq": 1},
        {"chart": "map_a", "x": 0, "y": 0},
    ],
)
def test_parse_click_rejects_malformed_values(value):
    assert parse_click(value, CHARTS) is None


def test_parse_view_orders_the_ranges_and_rejects_malformed_values():
    view = {"chart": "map_a", "x": [2, -1], "y": [0.5, 3]}
    assert parse_view(view, ["map_a"]) == ("map_a", ((-1.0, 2.0), (0.5, 3.0)))
    assert parse_view({**view, "chart": "other"}, ["map_a"]) is None
    assert parse_view({**view, "x": [1, 1]}, ["map_a"]) is None
    assert parse_view({**view, "y": [0, float("nan")]}, ["map_a"]) is None
    assert parse_view({"chart": "map_a"}, ["map_a"]) is None
