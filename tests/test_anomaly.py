import numpy as np
import pytest
import torch
from pairs import small_digits_pair
from sklearn import metrics

from explorer.core import anomaly
from explorer.core.anomaly import (
    COLUMNS,
    conformed,
    fake_report,
    inverted,
    roc_auc,
    roc_curve,
    scores,
    share_below,
    shuffled_pixels,
    uniform_noise,
)
from training.evaluate import negative_elbo


@pytest.fixture(scope="module")
def pair(digits):
    return small_digits_pair(digits)


def sklearn_roc(in_scores, out_scores):
    y = np.r_[np.zeros(len(in_scores)), np.ones(len(out_scores))]
    s = np.r_[in_scores, out_scores]
    fpr, tpr, thresholds = metrics.roc_curve(y, s, drop_intermediate=False)
    return fpr, tpr, thresholds, metrics.roc_auc_score(y, s)


@pytest.mark.parametrize(
    "make",
    [
        lambda rng: (rng.normal(0, 1, 300), rng.normal(1, 1, 200)),  # overlapping, no ties
        lambda rng: (rng.integers(0, 5, 300), rng.integers(2, 8, 100)),  # many ties, across sets
        lambda rng: (rng.random(50), rng.random(50) + 2),  # perfectly separated
        lambda rng: (rng.random(50) + 2, rng.random(50)),  # perfectly wrong
        lambda rng: (np.ones(10), np.ones(7)),  # all tied
        lambda rng: (np.array([0.3]), np.array([0.1])),  # one each
    ],
)
def test_roc_curve_and_auc_equal_scikit_learns(make):
    in_scores, out_scores = make(np.random.default_rng(0))
    fpr, tpr, thresholds = roc_curve(in_scores, out_scores)
    want_fpr, want_tpr, want_thresholds, want_auc = sklearn_roc(in_scores, out_scores)
    np.testing.assert_allclose(fpr, want_fpr)
    np.testing.assert_allclose(tpr, want_tpr)
    np.testing.assert_array_equal(thresholds, want_thresholds)
    assert roc_auc(in_scores, out_scores) == pytest.approx(want_auc, abs=1e-12)


def test_roc_auc_is_one_for_a_perfect_detector_and_a_half_for_ties():
    assert roc_auc([0.1, 0.2], [0.3, 0.4]) == 1.0
    assert roc_auc([0.3, 0.4], [0.1, 0.2]) == 0.0
    assert roc_auc([1.0, 1.0], [1.0]) == 0.5


@pytest.mark.parametrize(
    "bad",
    [[], [[0.1, 0.2]], [0.1, np.nan], [np.inf, 0.2], 0.5],
)
def test_roc_refuses_empty_non_finite_or_misshapen_scores(bad):
    with pytest.raises(ValueError, match="scores"):
        roc_curve(bad, [0.1, 0.2])
    with pytest.raises(ValueError, match="out_scores"):
        roc_auc([0.1, 0.2], bad)


def test_share_below_counts_ties_half():
    assert share_below(2.5, np.array([1.0, 2.0, 3.0, 4.0])) == 0.5
    assert share_below(2.0, np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx(0.375)
    assert share_below(9.0, np.array([1.0, 2.0])) == 1.0


def test_inverted_swaps_dark_and_light(digits):
    x = digits.floats(np.arange(5))
    y = inverted(x)
    assert y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_allclose(x + y, 1.0)


def test_shuffled_pixels_keep_each_images_values_and_depend_only_on_the_seed():
    x = np.random.default_rng(1).random((4, 3, 5, 6), dtype=np.float32)
    y = shuffled_pixels(x, seed=3)
    assert y.shape == x.shape and y.dtype == np.float32
    for a, b in zip(x, y, strict=True):  # the same pixels (colours kept together), moved
        assert sorted(map(tuple, a.reshape(3, -1).T)) == sorted(map(tuple, b.reshape(3, -1).T))
        assert not np.array_equal(a, b)
    np.testing.assert_array_equal(y, shuffled_pixels(x, seed=3))
    assert not np.array_equal(y, shuffled_pixels(x, seed=4))


def test_uniform_noise_is_seeded_and_in_range():
    x = uniform_noise(7, (3, 4, 4), seed=0)
    assert x.shape == (7, 3, 4, 4) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() <= 1 and 0.4 < x.mean() < 0.6
    np.testing.assert_array_equal(x, uniform_noise(7, (3, 4, 4), seed=0))
    assert not np.array_equal(x, uniform_noise(7, (3, 4, 4), seed=1))


def test_conformed_converts_colour_and_size():
    grey = np.full((2, 1, 28, 28), 255, np.uint8)
    colour = conformed(grey, (3, 8, 8))
    assert colour.shape == (2, 3, 8, 8) and colour.dtype == np.float32
    np.testing.assert_allclose(colour, 1.0, atol=1e-6)
    rgb = np.zeros((1, 3, 16, 16), np.float32)
    rgb[:, 0] = 0.9  # red: grey is the channels' mean
    np.testing.assert_allclose(conformed(rgb, (1, 4, 4)), 0.3, atol=1e-6)
    same = np.random.default_rng(0).random((1, 1, 8, 8), dtype=np.float32)
    np.testing.assert_array_equal(conformed(same, (1, 8, 8)), same)


def test_scores_are_per_image_reconstruction_error_and_the_vaes_elbo(digits, pair):
    x = digits.floats(digits.test_indices[:50])
    ae = scores(pair.models["ae"], x)
    assert set(ae) == {"recon"} and ae["recon"].shape == (50,)
    with torch.no_grad():
        x_hat = pair.models["ae"].decode(pair.models["ae"].encode(torch.from_numpy(x))).numpy()
    np.testing.assert_allclose(ae["recon"], ((x_hat - x) ** 2).mean(axis=(1, 2, 3)), rtol=1e-5)
    vae = scores(pair.models["vae"], x, seed=2)
    assert set(vae) == {"recon", "neg_elbo"}
    assert vae["neg_elbo"].mean() == pytest.approx(negative_elbo(pair.models["vae"], x, 2))
    np.testing.assert_array_equal(vae["neg_elbo"], scores(pair.models["vae"], x, 2)["neg_elbo"])


def test_a_trained_pair_tells_noise_from_its_test_images(pair):
    report = fake_report(pair, data_dir=None, seed=0)
    n = len(pair.dataset.test_indices)
    assert all(report.in_scores[c].shape == (n,) for c in COLUMNS)
    assert {"inverted", "pixels shuffled", "uniform noise"} <= set(report.sets)
    for name, images in report.sets.items():
        assert images.dtype == np.uint8 and images.shape[1:] == (1, 8, 8), name
        assert all(report.out_scores[name][c].shape == (len(images),) for c in COLUMNS)
    aucs = report.aucs()
    assert all(aucs["uniform noise"][c] > 0.95 for c in COLUMNS), aucs
    again = fake_report(pair, data_dir=None, seed=0)
    for c in COLUMNS:
        np.testing.assert_array_equal(report.in_scores[c], again.in_scores[c])


@pytest.mark.shared_data("mnist")
def test_another_dataset_is_resized_to_the_models_images(shared_data):
    sets = anomaly.other_dataset_sets("digits", (1, 8, 8), shared_data, n=30, seed=0)
    assert "mnist (resized)" in sets
    x = sets["mnist (resized)"]
    assert x.shape == (30, 1, 8, 8) and x.min() >= 0 and x.max() <= 1 and x.max() > 0.5
    again = anomaly.other_dataset_sets("digits", (1, 8, 8), shared_data, n=30, seed=0)
    np.testing.assert_array_equal(x, again["mnist (resized)"])
    assert anomaly.other_dataset_sets("folder", (1, 8, 8), shared_data, n=30, seed=0) == {}


def test_the_figures_mark_the_chosen_image_and_draw_one_roc_curve_per_score(pair):
    report = fake_report(pair, data_dir=None, seed=0)
    marks = {c: float(report.in_scores[c][0]) for c in COLUMNS}
    fig = anomaly.score_histograms(report.in_scores, marks, report.out_scores["inverted"], "inv")
    assert len(fig.data) == 2 * len(COLUMNS) and len(fig.layout.shapes) == len(COLUMNS)
    assert [s.x0 for s in fig.layout.shapes] == list(marks.values())
    roc = anomaly.roc_figure(report, "uniform noise")
    assert len(roc.data) == len(COLUMNS) + 1 and "AUC" in roc.data[0].name
