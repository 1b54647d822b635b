"""How far to trust a concept vector (explorer/core/concept_checks.py): the data region and its
warning, held-out AUC, bootstrap stability, side effects and the report card, on hand-made
point clouds with a planted direction."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from test_concepts import METHODS, planted_groups, unit
from threadpoolctl import threadpool_limits

from explorer.core.concept_checks import (
    bootstrap_cosines,
    data_region,
    held_out_auc,
    outside_message,
    report_card,
    side_effects,
)
from explorer.core.concepts import direction, orthogonalize


@pytest.fixture(autouse=True)
def one_blas_thread():
    """The fits here are tiny: BLAS threads only add waiting, 5x so on a busy 2-core machine."""
    with threadpool_limits(1):
        yield


def test_data_region_keeps_fresh_points_of_the_cloud_inside_and_far_points_outside():
    rng = np.random.default_rng(7)
    region = data_region(rng.normal(size=(1000, 2)))
    inside = (region.distance_ratio(rng.normal(size=(2000, 2))) < 1).mean()
    assert 0.97 < inside < 1.0
    assert region.distance_ratio(np.array([6.0, 6.0]))[0] > 1


def test_data_region_counts_a_gap_between_clusters_as_outside():
    rng = np.random.default_rng(8)
    codes = np.r_[rng.normal(size=(500, 2)) - [6, 0], rng.normal(size=(500, 2)) + [6, 0]]
    ratio = data_region(codes).distance_ratio(np.array([[0.0, 0.0], [6.0, 0.0]]))
    assert ratio[0] > 1 > ratio[1]


# ---- the report card ----


@pytest.mark.parametrize("method", METHODS)
def test_held_out_auc_is_near_chance_for_random_labels_where_in_sample_is_optimistic(method):
    held_out, in_sample = [], []
    for seed in range(12):
        z = np.random.default_rng(seed).normal(size=(60, 40))  # few points, many dims
        y = np.repeat([0, 1], 30)
        held_out.append(held_out_auc(z, y, method, seed=seed))
        in_sample.append(roc_auc_score(y, z @ direction(z, y, method)))
    assert 0.4 < np.mean(held_out) < 0.6
    assert np.mean(in_sample) > 0.8  # about 0.87 for the mean, 0.99 for the logistic normal


@pytest.mark.parametrize("method", METHODS)
def test_held_out_auc_is_near_one_for_well_separated_groups(method):
    z, y, _ = planted_groups(n=200, shift=6.0)
    assert held_out_auc(z, y, method) > 0.99


def test_held_out_auc_works_for_every_balance_that_direction_accepts():
    z, y, _ = planted_groups(n=50, k=3, shift=3.0)
    b = np.zeros(100, int)
    b[:2] = 1  # the smallest cell direction() accepts
    b[50:75] = 1
    direction(z, y, balance=b)
    assert held_out_auc(z, y, balance=b) > 0.9


def test_bootstrap_cosines_are_near_one_for_a_strong_signal_and_lower_for_a_weak_one():
    strong = bootstrap_cosines(*planted_groups(n=200, shift=3.0)[:2], n=20)
    weak = bootstrap_cosines(*planted_groups(n=30, shift=0.2)[:2], n=20)
    assert strong.shape == (20,) and strong.min() > 0.98
    assert np.median(weak) < 0.9


def test_side_effects_are_zero_for_an_orthogonal_concept_and_analytic_for_a_planted_one():
    # projections on e0: (3, -3, 0, 0), std 3/sqrt(2); on w = (e0 + e1)/sqrt(2): std 5/2;
    # one spread along e0 moves w by (3/sqrt(2)) (1/sqrt(2)) / (5/2) = 0.6 of w's spreads
    codes = np.array([[3.0, 0.0], [-3.0, 0.0], [0.0, 4.0], [0.0, -4.0]])
    e0, e1, w = np.array([1.0, 0.0]), np.array([0.0, 1.0]), unit([1.0, 1.0])
    effects = side_effects(e0, {"orthogonal": e1, "planted": w, "opposite": -w}, codes)
    assert effects == pytest.approx({"orthogonal": 0.0, "planted": 0.6, "opposite": -0.6})


@pytest.mark.parametrize("method", METHODS)
def test_report_card_fields_are_consistent_also_for_an_orthogonalized_vector(method):
    z, y, d = planted_groups(n=100, shift=3.0)
    other = unit(d + np.eye(5)[0])
    plain = report_card(z, y, method, others={"other": other})
    u = orthogonalize(direction(z, y, method), [other])
    orthogonal = report_card(z, y, method, others={"other": other}, u=u)
    for card in (plain, orthogonal):
        assert 0.8 < card.auc <= 1.0
        assert 0.0 <= card.cosine_low <= card.cosine_median <= 1 + 1e-9
        assert card.gap > 0
    assert plain.side_effects["other"] > 0.5
    assert orthogonal.side_effects["other"] == pytest.approx(0.0, abs=1e-9)


# ---- saved concepts and their JSON ----


def test_data_region_never_puts_the_datas_own_codes_outside():
    # A heavy-tailed cloud: with a 99th-percentile threshold 1% of real codes were "outside".
    codes = np.random.default_rng(3).standard_t(2, size=(3000, 4))
    assert data_region(codes).distance_ratio(codes).max() <= 1.0


def test_outside_message_names_the_alphas_and_says_how_far_in_words():
    alphas = np.array([-2.0, 0.0, 2.0, 3.0])
    assert outside_message("vae", alphas, np.array([0.4, 0.2, 0.9, 1.0])) is None
    message = outside_message("ae", alphas, np.array([1.2, 0.3, 0.8, 4.2]))
    assert message.startswith("AE: at alpha -2.0, +3.0 the edited code is far outside the data")
    assert "4.2 times as far" in message and "+0.0" not in message
    assert "just outside" in outside_message("ae", alphas, np.array([1.2, 0.1, 0.1, 0.1]))
