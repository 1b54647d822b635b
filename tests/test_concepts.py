import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from explorer.core.concept_checks import (
    bootstrap_cosines,
    data_region,
    held_out_auc,
    outside_message,
    report_card,
    side_effects,
)
from explorer.core.concept_io import MAX_IMPORTED, concepts_from_json, concepts_to_json
from explorer.core.concepts import (
    MAX_NAME,
    Concept,
    ConceptError,
    Groups,
    analogy,
    balanced_weights,
    combine,
    concept_plane,
    direction,
    edit,
    group_classes,
    group_gap,
    orthogonalize,
    spread,
    starting_row,
    strip_alphas,
    two_groups,
)

METHODS = ["mean", "logistic"]


@pytest.fixture(autouse=True)
def one_blas_thread():
    """The fits here are tiny: BLAS threads only add waiting, 5x so on a busy 2-core machine."""
    with threadpool_limits(1):
        yield


def unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def planted_groups(n=2000, k=5, shift=2.0, seed=0):
    """Two isotropic Gaussian groups of n codes each, group 1 moved by shift along a random d."""
    rng = np.random.default_rng(seed)
    d = unit(rng.normal(size=k))
    z = rng.normal(size=(2 * n, k))
    y = np.repeat([0, 1], n)
    z[y == 1] += shift * d
    return z, y, d


def confounded_groups(n=2000, seed=0):
    """The concept moves axis 0; attribute B moves axis 1 and is 90% of group 1, 10% of group 0."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n)
    b = (rng.random(2 * n) < np.where(y == 1, 0.9, 0.1)).astype(int)
    z = rng.normal(size=(2 * n, 3))
    z[:, 0] += 2.0 * y
    z[:, 1] += 3.0 * b
    return z, y, b


# ---- groups and directions ----


def test_two_groups_drops_points_in_both_selections_and_labels_the_rest():
    rows, labels = two_groups(np.array([3, 1, 5, 5]), np.array([5, 7, 2]))
    assert dict(zip(rows.tolist(), labels.tolist(), strict=True)) == {1: 0, 3: 0, 2: 1, 7: 1}


@pytest.mark.parametrize("method", METHODS)
def test_direction_recovers_a_planted_direction_as_a_unit_vector(method):
    z, y, d = planted_groups()
    u = direction(z, y, method)
    assert np.linalg.norm(u) == pytest.approx(1.0, abs=1e-12)
    assert u @ d > 0.99  # also says it points from group 0 to group 1


@pytest.mark.parametrize("method", METHODS)
def test_swapping_the_groups_reverses_the_direction(method):
    z, y, _ = planted_groups(n=300)
    np.testing.assert_allclose(direction(z, 1 - y, method), -direction(z, y, method), atol=1e-4)


def test_mean_direction_is_the_normalized_difference_of_group_means():
    z = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 3.0], [3.0, 5.0]])  # means (1, 0) and (2, 4)
    u = direction(z, np.array([0, 0, 1, 1]), "mean")
    np.testing.assert_allclose(u, np.array([1.0, 4.0]) / np.sqrt(17.0), atol=1e-12)


def test_logistic_direction_discounts_axes_where_the_groups_vary_a_lot():
    # Means differ by (1, 1), but the groups spread 10x more along x: the Bayes-optimal boundary
    # normal (LDA, Sigma^-1 delta = (1/25, 4)) is almost y, and the logistic normal follows it.
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1], 2000)
    z = rng.normal(size=(4000, 2)) * [5.0, 0.5] + np.outer(y, [1.0, 1.0])
    assert direction(z, y, "logistic") @ unit([1 / 25, 4]) > 0.99
    assert direction(z, y, "mean") @ unit([1 / 25, 4]) < 0.8


@pytest.mark.parametrize("method", METHODS)
def test_balancing_removes_a_confounded_attribute_from_the_direction(method):
    z, y, b = confounded_groups()
    plain, balanced = direction(z, y, method), direction(z, y, method, balance=b)
    assert abs(plain[1]) > 0.4  # about 0.77 for the mean, 0.49 for the logistic normal
    assert abs(balanced[1]) < 0.1
    assert balanced[0] > 0.99


def test_balanced_weights_sum_to_one_per_group_and_half_per_cell():
    y = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    b = np.array([0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1])
    for balance in (None, b):
        w = balanced_weights(y, balance)
        np.testing.assert_allclose([w[y == 0].sum(), w[y == 1].sum()], [1.0, 1.0])
    w = balanced_weights(y, b)
    cells = [w[(y == g) & (b == a)].sum() for g in (0, 1) for a in (0, 1)]
    np.testing.assert_allclose(cells, [0.5] * 4)


Z4 = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
Y4 = np.array([0, 0, 1, 1])
NAN4 = np.where(Z4 == 1, np.nan, Z4)


@pytest.mark.parametrize(
    "z, y, kwargs, message",
    [
        pytest.param(Z4[:3], Y4[:3], {}, "at least 2 points; they have 2 and 1", id="one point"),
        pytest.param(Z4, np.array([0, 0, 1, 2]), {}, "0 or 1", id="label 2"),
        pytest.param(Z4, np.array([0, 0, 1, np.nan]), {}, "0 or 1", id="label NaN"),
        pytest.param(NAN4, Y4, {}, "NaN", id="NaN code"),
        pytest.param(Z4[:, 0], Y4, {}, r"need codes \(N, K\)", id="1-D codes"),
        pytest.param(Z4, Y4[:3], {}, r"need codes \(N, K\)", id="too few labels"),
        pytest.param(Z4, Y4, {"method": "pca"}, "method must be one of", id="unknown method"),
        pytest.param(np.ones((4, 2)), Y4, {}, "same mean code", id="identical groups"),
        pytest.param(
            np.ones((4, 2)), Y4, {"method": "logistic"}, "same mean code", id="identical logistic"
        ),
        pytest.param(Z4, Y4, {"balance": [0, 0, 0, 0]}, "cannot balance", id="balance empty cell"),
        pytest.param(Z4, Y4, {"balance": [0, 1, 0, 1]}, "cannot balance", id="balance cell of 1"),
        pytest.param(Z4, Y4, {"balance": [0, 1, 0]}, "0/1 for every point", id="balance short"),
        pytest.param(Z4, Y4, {"balance": [0, 1, 0, 2]}, "0/1 for every point", id="balance 2"),
    ],
)
def test_direction_refuses_bad_groups_with_a_clear_message(z, y, kwargs, message):
    with pytest.raises(ConceptError, match=message):
        direction(z, y, **kwargs)


# ---- arithmetic ----


def test_spread_is_the_standard_deviation_along_u_and_must_be_positive():
    assert spread(np.array([[1.0, 9.0], [3.0, -9.0]]), np.array([1.0, 0.0])) == 1.0
    with pytest.raises(ConceptError, match="does not vary"):
        spread(np.array([[1.0, 0.0], [1.0, 5.0]]), np.array([1.0, 0.0]))


def test_edit_moves_the_projection_by_alpha_spreads_and_nothing_else():
    rng = np.random.default_rng(4)
    z, u, step, alphas = rng.normal(size=6), unit(rng.normal(size=6)), 1.7, [-2.0, 0.0, 0.5]
    moves = edit(z, u, step, alphas) - z
    np.testing.assert_allclose(moves @ u, np.array(alphas) * step, atol=1e-12)
    np.testing.assert_allclose(moves - np.outer(moves @ u, u), 0.0, atol=1e-12)
    assert edit(z, u, step, 1.0).shape == (1, 6)


def test_edit_strip_is_symmetric_with_zero_in_the_middle():
    a = strip_alphas(-2.5, 7)
    np.testing.assert_allclose(a, -a[::-1], atol=1e-12)
    assert (a[0], a[3], a[-1]) == (-2.5, 0.0, 2.5)
    assert np.all(np.diff(a) > 0)


def test_group_gap_counts_the_distance_between_group_means_in_steps():
    z = np.array([[0.0, 7.0], [2.0, -1.0], [4.0, 3.0], [6.0, 0.0]])
    assert group_gap(z, Y4, np.array([1.0, 0.0]), 2.0) == pytest.approx(2.0)  # (5 - 1) / 2


def test_analogy_is_a_minus_b_plus_c():
    a, b, c = np.array([1.0, 2.0]), np.array([0.5, -1.0]), np.array([3.0, 0.0])
    np.testing.assert_array_equal(analogy(a, b, c), [3.5, 3.0])


def test_combine_normalizes_the_weighted_sum_and_refuses_when_nothing_is_left():
    e = np.eye(3)
    np.testing.assert_allclose(combine([e[0], e[1]], [1.0, 0.5]), unit([1.0, 0.5, 0.0]))
    with pytest.raises(ConceptError, match="cancel out"):
        combine([e[0], e[0]], [1.0, -1.0])
    with pytest.raises(ConceptError, match="one weight for each"):
        combine([e[0], e[1]], [1.0])
    with pytest.raises(ConceptError, match="one weight for each"):
        combine([], [])


def test_orthogonalize_removes_the_span_of_several_non_orthogonal_others():
    rng = np.random.default_rng(5)
    base = rng.normal(size=6)
    others = [base + 0.3 * rng.normal(size=6) for _ in range(3)]  # strongly correlated
    u = unit(rng.normal(size=6))
    v = orthogonalize(u, others)
    np.testing.assert_allclose([v @ o for o in others], 0.0, atol=1e-12)
    assert np.linalg.norm(v) == pytest.approx(1.0, abs=1e-12)
    # oracle: the least-squares residual of u on the others, normalized
    a = np.stack(others, 1)
    residual = u - a @ np.linalg.lstsq(a, u, rcond=None)[0]
    np.testing.assert_allclose(v, unit(residual), atol=1e-9)


def test_orthogonalize_refuses_a_vector_in_the_span_of_the_others():
    o1, o2 = np.array([1.0, 2.0, 0.0, 1.0]), np.array([0.0, 1.0, 1.0, -1.0])
    with pytest.raises(ConceptError, match="span of the others"):
        orthogonalize(2 * o1 - o2, [o1, o2])


def test_orthogonalize_against_repeated_others_removes_only_their_span():
    e = np.eye(3)
    np.testing.assert_allclose(orthogonalize(e[1], [e[0], e[0]]), e[1], atol=1e-12)


def test_concept_plane_has_the_concept_on_x_and_the_leading_other_variance_on_y():
    rng = np.random.default_rng(6)
    u = unit(rng.normal(size=5))
    v = unit(rng.normal(size=5))
    v = unit(v - (v @ u) * u)
    # most variance along u itself, then along v, then isotropic noise
    codes = rng.normal(size=(2000, 5)) + np.outer(10 * rng.normal(size=2000), u)
    codes += np.outer(4 * rng.normal(size=2000), v) + 3.0
    p = concept_plane(codes, u)
    np.testing.assert_array_equal(p.components[0], u)
    np.testing.assert_allclose(p.components @ p.components.T, np.eye(2), atol=1e-12)
    assert abs(p.components[1] @ v) > 0.99
    z = codes[0]
    np.testing.assert_allclose(p.to_latent(p.to_plane(z[None]), base=z)[0], z, atol=1e-12)


# ---- where the data lives ----


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


def saved_doc(latent_dim=4, n=1):
    e = np.eye(latent_dim)
    concepts = [Concept(f"c{i}", {"ae": e[0], "vae": e[1]}) for i in range(n)]
    return json.loads(concepts_to_json(concepts, latent_dim))


def test_concepts_round_trip_through_json_normalized():
    rng = np.random.default_rng(9)
    concepts = [
        Concept("Smiling", {"ae": unit(rng.normal(size=4)), "vae": unit(rng.normal(size=4))}),
        Concept("Big", {"ae": 3 * np.ones(4), "vae": rng.normal(size=4)}, "class 1 minus 7"),
    ]
    text = concepts_to_json(concepts, 4, models="ae.pt + vae.pt")
    back, models = concepts_from_json(text.encode(), 4)
    assert models == "ae.pt + vae.pt"
    assert [(c.name, c.description) for c in back] == [
        ("Smiling", ""),
        ("Big", "class 1 minus 7"),
    ]
    for old, new in zip(concepts, back, strict=True):
        for kind in ("ae", "vae"):
            np.testing.assert_allclose(new.vectors[kind], unit(old.vectors[kind]), atol=1e-15)


def test_concepts_json_accepts_the_limits_themselves():
    doc = saved_doc(n=MAX_IMPORTED)
    doc["concepts"][0]["name"] = "x" * MAX_NAME
    assert len(concepts_from_json(json.dumps(doc), 4)[0]) == MAX_IMPORTED


def set_vector(values):
    def change(doc):
        doc["concepts"][0]["vectors"]["ae"] = values

    return change


def set_name(name):
    def change(doc):
        doc["concepts"][0]["name"] = name

    return change


def bad_file(name, change, message):
    return pytest.param(change, message, id=name)


VECTOR = "c0: the ae vector must be 4 finite numbers, not all 0"
NAME = "name of 1 to 80 characters"


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
@pytest.mark.parametrize(
    "change, message",
    [
        bad_file("format", lambda d: d.update(format="x"), "not a Latent Explorer concepts file"),
        bad_file("newer", lambda d: d.update(version=2), "version 2 is newer than this app"),
        bad_file("version text", lambda d: d.update(version="1"), "version '1'"),
        bad_file("latent dim", lambda d: d.update(latent_dim=3), "3-D; the models here are 4-D"),
        bad_file("no list", lambda d: d.update(concepts={}), "'concepts' must be a list"),
        bad_file("too many", lambda d: d.update(concepts=[{}] * 101), "list of at most 100"),
        bad_file("missing kind", lambda d: d["concepts"][0]["vectors"].pop("vae"), "c0: needs one"),
        bad_file("no vectors", lambda d: d["concepts"][0].pop("vectors"), "c0: needs one vector"),
        bad_file("short", set_vector([1.0, 0.0, 0.0]), VECTOR),
        bad_file("NaN", set_vector([float("nan"), 1.0, 0.0, 0.0]), VECTOR),
        bad_file("inf", set_vector([float("inf"), 1.0, 0.0, 0.0]), VECTOR),
        bad_file("bool", set_vector([True, 0, 0, 0]), VECTOR),
        bad_file("string", set_vector(["1", 0, 0, 0]), VECTOR),
        bad_file("not a list", set_vector("1,0,0,0"), VECTOR),
        bad_file("all zero", set_vector([0, 0.0, 0, 0]), VECTOR),
        bad_file("empty name", set_name(""), NAME),
        bad_file("blank name", set_name("   "), NAME),
        bad_file("long name", set_name("x" * (MAX_NAME + 1)), NAME),
        bad_file("number name", set_name(7), NAME),
        bad_file("not an object", lambda d: d["concepts"].append("c1"), NAME),
        bad_file("huge int", set_vector([10**400, 0, 0, 0]), VECTOR),
    ],
)
def test_concepts_json_refuses_bad_files_saying_what_is_wrong(change, message):
    doc = saved_doc()
    change(doc)
    with pytest.raises(ConceptError, match=message):
        concepts_from_json(json.dumps(doc), 4)


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        b"\xff\xfe\x00",
        pytest.param("[" * 100_000, id="deeply-nested"),
    ],
)
def test_concepts_json_refuses_text_that_is_not_json(text):
    with pytest.raises(ConceptError, match="not a JSON file"):
        concepts_from_json(text, 4)


def test_concepts_json_refuses_json_that_is_not_an_object():
    with pytest.raises(ConceptError, match="not a Latent Explorer concepts file"):
        concepts_from_json("[1, 2]", 4)


def test_concepts_json_reads_huge_but_finite_numbers_as_their_direction():
    doc = saved_doc()
    set_vector([1e308, 1e308, 0, 0])(doc)
    concept = concepts_from_json(json.dumps(doc), 4)[0][0]
    np.testing.assert_allclose(concept.vectors["ae"], [2**-0.5, 2**-0.5, 0, 0])


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


def test_group_classes_name_neither_only_when_some_point_is_in_no_group():
    groups = Groups(np.array([0, 1, 2, 3]), np.array([0, 0, 1, 1]), ("a", "b"))
    classes, names = group_classes(4, groups)
    assert names == ("a", "b") and classes.tolist() == [0, 0, 1, 1]
    classes, names = group_classes(6, groups)
    assert names == ("a", "b", "neither") and classes.tolist() == [0, 0, 1, 1, 2, 2]


def test_an_edit_starts_on_the_picked_point_only_when_it_is_in_the_from_group():
    groups = Groups(np.array([4, 7, 1, 9]), np.array([0, 0, 1, 1]), ("1", "7"))
    assert starting_row(groups, 7) == 7
    assert starting_row(groups, 1) == 4  # a member of "towards": the first "from" member
    assert starting_row(groups, None) == 4
    assert starting_row(None, 12) == 12 and starting_row(None, None) == 0
