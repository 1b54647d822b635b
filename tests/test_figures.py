import numpy as np
import pytest
from pairs import fit_pair

from explorer.core.figures import (
    PALETTE,
    group_histograms,
    latent_map,
    loss_curves,
    map_axes,
    map_key,
    map_kind,
    pair_maps,
    shared_range,
    side_effect_bars,
)
from explorer.core.model_pair import build_pair
from training.data import load_dataset


@pytest.fixture(scope="module")
def pairs():
    """Two small digits pairs on 300 points: 2-D codes, and 3-D codes (maps in a PCA view)."""
    digits = load_dataset("digits")

    def pair(latent_dim):
        models = fit_pair(digits, epochs=1, batch_size=256, latent_dim=latent_dim, hidden=(16,))
        return build_pair(digits, *models, f"{latent_dim}-D", max_points=300)

    return {2: pair(2), 3: pair(3)}


def test_latent_map_holds_every_point_in_one_trace_with_a_legend_per_class():
    xy = np.random.default_rng(0).normal(size=(50, 2))
    classes = np.arange(50) % 3
    fig = latent_map(xy, classes, ("zero", "one", "two"), "AE latent space")
    points = fig.data[0]
    np.testing.assert_array_equal(points.x, xy[:, 0])
    np.testing.assert_array_equal(points.y, xy[:, 1])
    np.testing.assert_array_equal(points.marker.color, classes)
    scale = points.marker.colorscale  # class i sits in band i of a flat, discrete scale
    assert [c for _, c in scale[::2]] == list(PALETTE[:3])
    assert (points.marker.cmin, points.marker.cmax) == (-0.5, 2.5)
    assert [t.name for t in fig.data[1:]] == ["zero", "one", "two"]
    assert not points.showlegend


def test_latent_map_reports_clicks_anywhere_and_keeps_zoom_across_updates():
    fig = latent_map(np.zeros((3, 2)), None, (), "t")
    assert fig.layout.clickanywhere is True
    assert fig.layout.clickmode == "event"
    assert fig.layout.uirevision == "latent-map"
    assert len(fig.data) == 1  # no classes, no legend entries


def test_latent_map_is_identical_for_identical_inputs():
    xy = np.random.default_rng(1).normal(size=(20, 2))
    a = latent_map(xy, np.zeros(20, int), ("a",), "t").to_json()
    assert a == latent_map(xy.copy(), np.zeros(20, int), ("a",), "t").to_json()


def test_axis_range_and_titles_are_applied():
    fig = latent_map(np.zeros((2, 2)), None, (), "t", ("PC 1", "PC 2"), ((-1, 1), (-2, 2)))
    assert tuple(fig.layout.xaxis.range) == (-1, 1) and tuple(fig.layout.yaxis.range) == (-2, 2)
    assert fig.layout.xaxis.title.text == "PC 1"


def test_shared_range_covers_every_map_with_a_margin():
    (x0, x1), (y0, y1) = shared_range(
        np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[-1.0, 2.0], [0.5, 3.0]])
    )
    assert x0 < -1 and x1 > 1 and y0 < 0 and y1 > 3
    assert x1 - x0 == pytest.approx(2 * 1.1)


def test_loss_curves_draw_reconstruction_and_kl_as_separate_lines():
    curves = {
        "ae": [{"step": 10, "recon": 30.0, "total": 30.0}, {"step": 20, "recon": 25.0}],
        "vae": [{"step": 10, "recon": 32.0, "kl": 3.0, "total": 35.0}],
    }
    fig = loss_curves(curves)
    assert [t.name for t in fig.data] == ["AE reconstruction", "VAE reconstruction", "VAE KL"]
    assert list(fig.data[0].y) == [30.0, 25.0]
    assert fig.layout.yaxis.type == "log"


def test_group_histograms_draw_each_groups_projections_under_its_name():
    projections = np.array([-1.0, -0.5, 0.5, 1.0, 2.0])
    groups = np.array([0, 0, 1, 1, 1])
    fig = group_histograms(projections, groups, ("not Smiling", "Smiling"), "VAE")
    assert [t.name for t in fig.data] == ["not Smiling", "Smiling"]
    np.testing.assert_array_equal(fig.data[0].x, [-1.0, -0.5])
    np.testing.assert_array_equal(fig.data[1].x, [0.5, 1.0, 2.0])
    assert fig.layout.barmode == "overlay"


def test_side_effect_bars_put_the_largest_effects_on_top_and_mark_the_big_ones():
    effects = {"Male": -0.6, "Young": 0.05, "Bangs": 0.2, "Blond_Hair": 0.4}
    fig = side_effect_bars(effects, "VAE", top=3)
    bars = fig.data[0]
    assert list(bars.y) == ["Bangs", "Blond_Hair", "Male"]  # plotly draws the last on top
    assert list(bars.x) == [0.2, 0.4, -0.6]
    assert bars.marker.color[0] != bars.marker.color[2] == bars.marker.color[1]


def test_loss_curves_label_only_1_2_and_5_of_each_decade_on_the_log_axis():
    fig = loss_curves({"vae": [{"step": s, "recon": 200 / s, "kl": 3.0} for s in range(1, 50)]})
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.dtick == "D2"


def test_pair_maps_are_the_latent_maps_of_both_models_and_pca_with_their_titles(pairs):
    pair = pairs[2]
    classes, names = pair.classes()
    maps = pair_maps(pair, None, True, True)
    assert list(maps) == ["map_ae", "map_vae", "map_pca"]
    same = shared_range(pair.xy("ae"), pair.xy("vae"))
    for kind in ("ae", "vae"):
        expected = latent_map(
            pair.xy(kind), classes, names, f"{kind.upper()} latent space", ("z1", "z2"), same
        )
        assert maps[f"map_{kind}"].to_json() == expected.to_json()
    pca = latent_map(pair.pca_xy(), classes, names, "PCA of the images", ("PC 1", "PC 2"))
    assert maps["map_pca"].to_json() == pca.to_json()
    assert list(pair_maps(pair, None, True, False)) == ["map_ae", "map_vae"]


def test_pair_maps_of_codes_above_two_dimensions_say_they_are_a_pca_view(pairs):
    maps = pair_maps(pairs[3], None, False, False)
    fig = maps["map_vae"]
    assert fig.layout.title.text == "VAE latent space (3-D, PCA view)"
    assert fig.layout.xaxis.title.text == "PC 1 of the codes"
    assert fig.layout.xaxis.range is None  # not the same scale: each map its own range
    np.testing.assert_array_equal(fig.data[0].x, pairs[3].xy("vae")[:, 0])


def test_pair_maps_are_built_once_per_pair_and_options_and_shared(pairs, monkeypatch):
    pair = pairs[2]
    pair._shared.clear()  # what other tests built
    first = pair_maps(pair, None, False, True)
    built = []
    monkeypatch.setattr("explorer.core.figures.latent_map", lambda *a: built.append(a))
    again = pair_maps(pair, None, False, True)
    assert all(again[k] is first[k] for k in first) and not built  # the same objects, no build
    with_scale = pair_maps(pair, None, True, True)
    assert len(built) == 2  # the two code maps, for the other scale; PCA's does not depend on it
    assert with_scale["map_pca"] is first["map_pca"]
    assert pair_maps(pairs[3], None, False, False)["map_ae"] is not first["map_ae"]


def test_a_maps_axes_are_the_codes_in_2d_and_the_pca_views_axes_above():
    assert map_axes(1) == map_axes(2) == ("z1", "z2")
    assert map_axes(16) == ("PC 1 of the codes", "PC 2 of the codes")
    assert map_axes(16, short=True) == ("PC 1", "PC 2")


def test_a_maps_chart_key_names_its_kind_and_gives_it_back():
    assert [map_key(k) for k in ("ae", "vae", "pca")] == ["map_ae", "map_vae", "map_pca"]
    assert map_kind(map_key("vae")) == "vae"
