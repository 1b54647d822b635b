"""The measures of what a class sees (training/quality.py), against planted oracles."""

import numpy as np
import pytest

from training import quality
from training.data import DataOptions, load_dataset
from training.data.faces import ATTRIBUTE_NAMES
from training.data.waves import counterfactual, render_waves


def test_frechet_distance_of_a_set_to_itself_is_zero():
    a = np.random.default_rng(0).normal(size=(500, 8))
    assert quality.frechet_distance(a, a) == pytest.approx(0, abs=1e-8)


def test_frechet_distance_of_a_shifted_copy_is_the_squared_shift():
    a = np.random.default_rng(0).normal(size=(500, 8))
    shift = np.arange(8) / 4
    assert quality.frechet_distance(a, a + shift) == pytest.approx((shift**2).sum(), rel=1e-9)


def test_frechet_distance_of_gaussians_matches_the_closed_form_for_scaled_covariances():
    # N(0, I) against N(0, s^2 I) in k dimensions: k (1 - s)^2, from large samples.
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(200_000, 4)), 3 * rng.normal(size=(200_000, 4))
    assert quality.frechet_distance(a, b) == pytest.approx(4 * (1 - 3) ** 2, rel=0.02)


def test_one_model_as_both_ae_and_vae_gives_a_ratio_of_one():
    rng = np.random.default_rng(2)
    real_images = rng.random((300, 1, 6, 6))
    space = quality.fit_feature_space(real_images, 16)
    real = space.transform(real_images[:200])
    weights = rng.normal(size=(3, 36))

    def decode(z):
        return 1 / (1 + np.exp(-z @ weights)).reshape(-1, 1, 6, 6)

    ae, vae = (quality.prior_frechet(decode, 3, space, real, seed=5) for _ in range(2))
    assert ae / vae == 1.0 and ae > 0


def test_the_feature_space_reads_uint8_and_floats_alike():
    images = np.random.default_rng(3).integers(0, 256, (100, 3, 4, 4), dtype=np.uint8)
    space = quality.fit_feature_space(images, 10)
    assert np.allclose(space.transform(images), space.transform(images / 255.0))
    assert space.components_.shape == (10, 48)
    with pytest.raises(ValueError, match="at least 10 images"):
        quality.fit_feature_space(images[:5], 10)


def planted_twins(n_people: int = 20) -> tuple[quality.SmileTwins, np.ndarray]:
    """Twins whose smile adds one fixed pattern to every face (and an open mouth another)."""
    rng = np.random.default_rng(4)
    neutral = rng.integers(40, 160, (n_people, 1, 4, 4)).astype(np.uint8)
    smile, mouth = np.zeros((1, 4, 4), np.uint8), np.zeros((1, 4, 4), np.uint8)
    smile[0, 3, :], mouth[0, 2, 1:3] = 60, 80
    states = [neutral + smile * s + mouth * m for s, m in quality.TWIN_STATES]
    return quality.SmileTwins(np.arange(n_people), np.stack(states)), smile.reshape(-1) / 255


def identity_coders():
    return (lambda x: quality.flat_floats(x)), (lambda z: np.asarray(z).reshape(-1, 1, 4, 4))


def test_a_decoder_that_returns_the_twin_gives_a_gain_of_one():
    twins, v = planted_twins()
    encode, decode = identity_coders()
    edit = quality.smile_edit(encode, decode, twins, v)
    assert edit.gain == pytest.approx(1.0)
    assert edit.nearest == (1.0, 0.0, 0.0, 0.0)


def test_an_edit_that_does_nothing_gains_nothing_and_lands_on_the_unchanged_face():
    twins, v = planted_twins()
    encode, decode = identity_coders()
    edit = quality.smile_edit(encode, decode, twins, np.zeros_like(v))
    assert edit.gain == pytest.approx(0.0)
    assert edit.nearest == (0.0, 0.0, 1.0, 0.0)


def test_an_edit_that_also_opens_the_mouth_lands_on_the_open_mouthed_twin():
    twins, v = planted_twins()
    encode, decode = identity_coders()
    both = v + (twins.images[3, 0] - twins.images[2, 0]).reshape(-1) / 255  # smile + open
    edit = quality.smile_edit(encode, decode, twins, both)
    assert edit.nearest == (0.0, 1.0, 0.0, 0.0) and edit.gain < 0.5


def test_an_attribute_vector_is_the_difference_of_the_group_means():
    faces = load_dataset("faces", options=DataOptions(limit=400, image_size=16))
    encode = identity_coders()[0]
    v = quality.attribute_vector(encode, faces, "Smiling", n_images=300)
    rows = faces.train_indices[:300]
    y = faces.attributes[rows, ATTRIBUTE_NAMES.index("Smiling")] == 1
    x = faces.pixels[rows].reshape(len(rows), -1) / 255
    assert np.allclose(v, x[y].mean(0) - x[~y].mean(0))


def test_smile_twins_are_the_same_people_with_only_the_mouth_changed():
    faces = load_dataset("faces", options=DataOptions(limit=600, image_size=32))
    twins = quality.smile_twins(faces, n_people=8)
    assert twins.images.shape == (4, 8, 3, 32, 32)
    assert faces.test_mask[twins.indices].all()
    assert np.array_equal(twins.images[2], faces.pixels[twins.indices])  # as drawn in the data
    smile = ATTRIBUTE_NAMES.index("Smiling")
    assert (faces.attributes[twins.indices, smile] == 0).all()
    for state in (0, 1, 3):  # the eyes and hair (the top 40% of the image) are untouched
        assert np.array_equal(twins.images[state][..., :12, :], twins.images[2][..., :12, :])
        assert not np.array_equal(twins.images[state], twins.images[2])


def test_smile_twins_refuse_too_few_held_out_faces():
    faces = load_dataset("faces", options=DataOptions(limit=100, image_size=16))
    with pytest.raises(ValueError, match="held-out neutral faces"):
        quality.smile_twins(faces, n_people=300)


# ---- "add a spike" on the waves, against the generator itself as the model ----


@pytest.fixture(scope="module")
def waves():
    return load_dataset("waves", options=DataOptions(limit=2000))


def generator_coders(waves):
    """A planted model whose code is a wave's attributes and its row, and whose decoder is the
    waves' generator: it draws any twin exactly. It encodes the waves and their Spike twins."""
    twins, flipped = counterfactual(waves.attributes, "Spike")
    rows = np.arange(waves.n_samples)
    code_of = {}
    for signals, attributes in ((waves.pixels, waves.attributes), (twins, flipped)):
        codes = np.column_stack([attributes, rows]).astype(np.float64)
        code_of.update((s.tobytes(), c) for s, c in zip(signals, codes, strict=True))

    def encode(signals):
        return np.stack([code_of[s.tobytes()] for s in np.asarray(signals)])

    def decode(z):
        attributes = np.clip(np.round(z[:, :4]), 0, 1).astype(np.uint8)
        return render_waves(attributes, rows=z[:, 4].astype(np.int64)) / 255.0

    return encode, decode


def test_an_edit_that_draws_the_twin_gains_one_and_shows_every_spike(waves):
    encode, decode = generator_coders(waves)
    edit = quality.spike_edit(encode, decode, waves, np.array([0, 0, 1, 0, 0.0]), n_waves=100)
    assert edit.gain == pytest.approx(1.0)
    assert edit.shown == edit.twins >= 0.98 and edit.before <= 0.02
    assert edit.kept == 1.0


def test_an_edit_that_does_nothing_gains_nothing_and_shows_no_new_spike(waves):
    encode, decode = generator_coders(waves)
    edit = quality.spike_edit(encode, decode, waves, np.zeros(5), n_waves=100)
    assert edit.gain == pytest.approx(0.0) and edit.shown == edit.before


def test_flipping_the_trend_is_counted_as_not_kept(waves):
    encode, decode = generator_coders(waves)
    edit = quality.spike_edit(encode, decode, waves, np.array([0, 0, 1, 1, 0.0]), n_waves=100)
    rising = waves.attribute_names.index("Rising")
    rows = np.flatnonzero(waves.test_mask & (waves.attributes[:, 2] == 0))[:100]
    assert edit.kept == pytest.approx((waves.attributes[rows, rising] == 1).mean())


def test_slopes_are_least_squares_slopes():
    t = np.arange(16.0)
    signals = np.stack([0.3 + 0.01 * t, 0.9 - 0.02 * t])[:, None, :, None]
    assert np.allclose(quality.slopes(signals), [0.01, -0.02])
