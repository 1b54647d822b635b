"""The Instruments page's map instruments headless (AppTest): posterior ellipses and the hole
map on the default digits models, and their figures checked directly."""

import numpy as np
import pytest
from apptest import open_instrument

from explorer.core import holes
from explorer.core.instrument_figures import ellipse_map, hole_maps
from explorer.core.model_pair import build_pair
from explorer.ui.instruments import holes as hole_view
from training.checkpoints import load_checkpoint
from training.data import load_dataset


def markdown(app) -> str:
    return "\n".join(m.value for m in app.markdown)


def test_the_ellipses_show_the_vae_map_with_a_readout_and_follow_their_controls(app):
    open_instrument(app, "ellipses")
    assert len(app.get("plotly_chart")) == 1
    text = markdown(app)
    assert "Median sigma on the map" in text and "- z1:" in text and "- z2:" in text
    assert "most uncertain class:" in text and "most certain class:" in text
    assert "encodes a region, not a point" in app.info[0].value
    app.slider(key="instrument_ellipses_count").set_value(300).run()
    app.toggle(key="instrument_ellipses_two_sigma").set_value(True).run()
    assert not app.exception and len(app.get("plotly_chart")) == 1


def test_the_hole_map_shows_both_maps_and_each_ones_share_of_holes(app):
    open_instrument(app, "holes")
    assert not app.exception
    assert len(app.get("plotly_chart")) == 1
    labels = [m.label for m in app.metric]
    assert labels == ["AE: share in holes", "VAE: share in holes"]
    for m in app.metric:
        assert m.value.endswith("%") and 0 <= int(m.value[:-1]) <= 100
    (note,) = [c.value for c in app.caption if c.value.startswith("A hole (beyond")]
    assert f"more than {holes.HOLE_THRESHOLD} spreads away" in note and "48 x 48 points" in note


# ---- the figures, built from the pair the app uses ----


@pytest.fixture(scope="module")
def pair(runs):
    folder = runs / "default" / "digits"
    ae, vae = (load_checkpoint(folder / f"{k}.safetensors") for k in ("ae", "vae"))
    return build_pair(load_dataset("digits"), ae.model, vae.model, "default")


def test_the_ellipse_map_draws_one_outline_per_chosen_point_in_its_class_colour(pair):
    figure = ellipse_map(pair, 40, two_sigma=True)
    outlines = [t for t in figure.data if t.mode == "lines"]
    # Per class one trace of 1-sigma and one of 2-sigma outlines; each outline ends with a gap.
    assert sum(np.isnan(np.asarray(t.x, dtype=float)).sum() for t in outlines) == 2 * 40
    assert {t.line.dash for t in outlines} == {"solid", "dot"}
    assert len({t.line.color for t in outlines}) > 1


def test_the_hole_maps_share_one_colour_axis(pair):
    grids, _ = hole_view.hole_grids(pair)  # its time: python -m benchmarks.instruments
    figure = hole_maps(pair, grids)
    heatmaps = [t for t in figure.data if t.type == "heatmap"]
    assert len(heatmaps) == 2 and {t.coloraxis for t in heatmaps} == {"coloraxis"}
    assert figure.layout.coloraxis.cmin == 0
