import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from explorer.core.concepts import (
    DEFAULT_ALPHA,
    Concept,
    ConceptError,
    Groups,
    analogy,
    balanced_weights,
    combine,
    concept_plane,
    direction,
    edit,
    gap_alpha,
    group_classes,
    group_gap,
    make_concept,
    orthogonalize,
    spread,
    starting_alpha,
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


def test_an_edit_starts_at_the_vaes_group_gap_in_spreads_of_all_the_codes():
    """Planted: group 1 sits 3 units further along x; the codes spread 2 units along x."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 500)
    codes = rng.standard_normal((1000, 4))
    codes[:, 0] = rng.choice([-1.0, 1.0], 1000) * 0.5 + 3.0 * y  # std along x: sqrt(0.25 + 2.25)
    step = np.sqrt(0.25 + 2.25)
    assert gap_alpha(codes, np.arange(1000), y, np.eye(4)[0]) == pytest.approx(round(3 / step, 1))
    concept = make_concept(
        "x", {"ae": codes * 100, "vae": codes}, Groups(np.arange(1000), y, ("a", "b"))
    )
    assert starting_alpha(concept, {"ae": codes * 100, "vae": codes}) == pytest.approx(1.9)
    imported = Concept("y", {"ae": np.eye(4)[0], "vae": np.eye(4)[0]})  # no groups
    assert starting_alpha(imported, {"ae": codes, "vae": codes}) == DEFAULT_ALPHA


def test_the_starting_alpha_stays_on_the_slider():
    y = (np.arange(200) < 2).astype(int)  # 2 rare members, far away: a gap of about 10 spreads
    z = np.zeros((200, 2))
    z[:, 0] = 100.0 * y + np.tile([-0.01, 0.01], 100)
    assert gap_alpha(z, np.arange(200), y, np.array([1.0, 0.0])) == 4.0
    z[:, 0] = 0.001 * y + np.tile([-1.0, 1.0], 100)  # the groups overlap: a gap near 0
    assert gap_alpha(z, np.arange(200), y, np.array([1.0, 0.0])) == 1.0  # one spread, visible


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
