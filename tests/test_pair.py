import numpy as np
import pytest
from pairs import fit_pair

from explorer.core import model_pair
from explorer.core.model_pair import PairCache, build_pair
from training.config import ModelConfig
from training.models import build_model


def models(dataset, latent_dim=2, epochs=3):
    return fit_pair(dataset, epochs, latent_dim=latent_dim, hidden=(32,))


def test_a_pair_maps_a_seeded_subset_and_decodes_in_both_models(digits):
    pair = build_pair(digits, *models(digits), "test", max_points=500)
    assert len(pair.indices) == 500 and np.all(np.diff(pair.indices) > 0)
    np.testing.assert_array_equal(pair.xy("ae"), pair.codes["ae"])  # 2-D: the codes themselves
    images = pair.decode("vae", np.zeros((3, 2)))
    assert images.shape == (3, 1, 8, 8) and images.min() >= 0 and images.max() <= 1
    np.testing.assert_array_equal(pair.image(0), digits.pixels[pair.indices[0]] / np.float32(255))
    again = build_pair(digits, *models(digits), "test", max_points=500)
    np.testing.assert_array_equal(pair.indices, again.indices)


def test_reconstructions_equal_decoding_the_points_code(digits):
    pair = build_pair(digits, *models(digits), "test", max_points=100)
    for kind in ("ae", "vae"):
        np.testing.assert_allclose(
            pair.reconstruct(kind, 7), pair.decode(kind, pair.codes[kind][7:8])[0]
        )


def test_codes_above_two_dimensions_are_projected_with_an_inverse(digits):
    pair = build_pair(digits, *models(digits, latent_dim=5), "test", max_points=300)
    assert pair.latent_dim == 5 and pair.xy("vae").shape == (300, 2)
    p = pair.projections["vae"]
    xy = np.array([[0.3, -0.2]])
    np.testing.assert_allclose(p.to_plane(p.to_latent(xy)), xy, atol=1e-9)


def test_pca_baseline_reconstructs_with_the_latent_size(digits):
    pair = build_pair(digits, *models(digits), "test", max_points=400)
    assert pair.pca.n_components_ == 2 and pair.pca_xy().shape == (400, 2)
    x = pair.pca_reconstruct(3)
    assert x.shape == (1, 8, 8) and x.min() >= 0 and x.max() <= 1


def test_map_colours_are_the_plotted_points_classes_and_their_names(digits):
    pair = build_pair(digits, *models(digits), "test", max_points=50)
    values, names = pair.classes()
    np.testing.assert_array_equal(values, digits.labels[pair.indices])
    assert names == digits.class_names


def test_models_for_other_images_or_latent_sizes_are_refused(digits):
    ae, vae = models(digits)
    other = build_model(ModelConfig(kind="vae", image_shape=(1, 28, 28)))
    with pytest.raises(ValueError, match="take images"):
        build_pair(digits, ae, other, "x")
    wider = build_model(ModelConfig(kind="vae", image_shape=digits.image_shape, latent_dim=3))
    with pytest.raises(ValueError, match="latent size"):
        build_pair(digits, ae, wider, "x")


def test_a_pair_cache_gives_back_the_same_codes_and_pca_without_encoding(
    digits, tmp_path, monkeypatch
):
    ae, vae = models(digits, latent_dim=4)
    cache = PairCache(tmp_path / "pair_cache.npz", "digits|files v1")
    first = build_pair(digits, ae, vae, "test", max_points=300, cache=cache)
    assert cache.path.is_file()

    def no_encoding(*args, **kwargs):
        raise AssertionError("encoded again despite the cache")

    monkeypatch.setattr(model_pair, "encode_all", no_encoding)
    again = build_pair(digits, ae, vae, "test", max_points=300, cache=cache)
    for kind in ("ae", "vae"):
        np.testing.assert_array_equal(again.codes[kind], first.codes[kind])
        np.testing.assert_array_equal(again.xy(kind), first.xy(kind))
    np.testing.assert_array_equal(again.pca.components_, first.pca.components_)
    with pytest.raises(AssertionError, match="encoded again"):  # another key: not used
        build_pair(digits, ae, vae, "test", max_points=300, cache=PairCache(cache.path, "v2"))
    with pytest.raises(AssertionError, match="encoded again"):  # other points: not used
        build_pair(digits, ae, vae, "test", max_points=200, cache=cache)


def test_a_damaged_pair_cache_is_rebuilt(digits, tmp_path):
    ae, vae = models(digits, latent_dim=2, epochs=1)
    cache = PairCache(tmp_path / "pair_cache.npz", "k")
    cache.path.write_bytes(b"not an npz file")
    pair = build_pair(digits, ae, vae, "test", max_points=100, cache=cache)
    assert pair.codes["ae"].shape == (100, 2)
    assert model_pair.read_cache(cache.path, "k|100|0") is not None  # written anew


def test_a_truncated_pair_cache_is_rebuilt(digits, tmp_path):
    ae, vae = models(digits, latent_dim=2, epochs=1)
    cache = PairCache(tmp_path / "pair_cache.npz", "k")
    build_pair(digits, ae, vae, "test", max_points=100, cache=cache)
    cache.path.write_bytes(cache.path.read_bytes()[:300])  # a zip cut short
    assert build_pair(digits, ae, vae, "test", max_points=100, cache=cache).codes["ae"].shape == (
        100,
        2,
    )
