import numpy as np
import pytest
from sklearn.decomposition import PCA as SklearnPCA

from explorer.core import pca as pca_module
from explorer.core.pca import fit_pca
from training.data import load_dataset


@pytest.fixture(scope="module")
def digits_rows():
    data = load_dataset("digits")
    return data.floats().reshape(data.n_samples, -1)  # (1797, 64) float32


@pytest.mark.parametrize("k", [2, 8, 16])
def test_pca_of_digits_equals_scikit_learns_exact_pca(digits_rows, k):
    ours = fit_pca(digits_rows, k)
    oracle = SklearnPCA(k, svd_solver="full").fit(digits_rows.astype(np.float64))
    assert ours.n_components_ == k
    np.testing.assert_allclose(ours.mean_, oracle.mean_, atol=1e-6)
    np.testing.assert_allclose(ours.components_, oracle.components_, atol=1e-5)  # signs too
    np.testing.assert_allclose(
        ours.transform(digits_rows), oracle.transform(digits_rows), atol=1e-4
    )


def test_inverse_transform_maps_codes_back_to_rows(digits_rows):
    ours = fit_pca(digits_rows, 64)  # every pixel: the reconstruction is the data itself
    back = ours.inverse_transform(ours.transform(digits_rows))
    np.testing.assert_allclose(back, digits_rows, atol=1e-5)


def test_results_keep_float32_as_scikit_learn_does(digits_rows):
    ours = fit_pca(digits_rows, 2)
    assert ours.components_.dtype == ours.mean_.dtype == np.float32
    assert ours.transform(digits_rows[:3]).dtype == np.float32


def test_many_pixels_use_the_randomized_sketch_and_find_the_same_components():
    rng = np.random.default_rng(1)
    d = pca_module.EXACT_UP_TO + 200
    # 300 rows in a 5-D subspace (decreasing spread) plus a little noise: a clear top five.
    basis = np.linalg.qr(rng.standard_normal((d, 5)))[0].T
    x = (rng.standard_normal((300, 5)) * [9, 7, 5, 3, 2]) @ basis + 0.01 * rng.standard_normal(
        (300, d)
    )
    ours = fit_pca(x, 5, seed=3)
    oracle = SklearnPCA(5, svd_solver="full").fit(x)
    np.testing.assert_allclose(ours.components_, oracle.components_, atol=1e-6)
    again = fit_pca(x, 5, seed=3)
    np.testing.assert_array_equal(ours.components_, again.components_)  # seeded


@pytest.mark.parametrize("k", [0, 65, 2000])
def test_impossible_component_counts_are_refused(digits_rows, k):
    with pytest.raises(ValueError, match="n_components"):
        fit_pca(digits_rows, k)
