"""What a class sees of a pair, measured: prior samples against real images (a Frechet
distance in a PCA space of pixels), and the smile vector against the generator's ground truth
(the same person drawn smiling). Pure NumPy over a model's encode/decode; issue 19's protocol.

Frechet distance: Heusel et al. 2017 ("GANs trained by a two time-scale update rule"), here on
the top principal components of real pixels instead of Inception features, so that it needs no
downloaded network and tells "off the data" from "face-like" for these small images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from training.data import Dataset
from training.data.faces import ATTRIBUTE_NAMES, render_faces
from training.data.waves import counterfactual, has_spike

Coder = Callable[[np.ndarray], np.ndarray]  # encode: images -> codes; decode: codes -> images

N_COMPONENTS = 64  # the feature space: top principal components of real images
N_SPACE_IMAGES = 4000  # real (training) images the feature space is fitted on
N_SAMPLES = 2000  # prior samples and held-out real images compared
N_PEOPLE = 300  # held-out faces (waves) drawn again with the attribute changed
N_VECTOR_IMAGES = 4000  # training images an attribute vector is the group mean difference over
# The four states of the counterfactual, (Smiling, Mouth_Slightly_Open); the target is first.
TWIN_STATES = ((1, 0), (1, 1), (0, 0), (0, 1))
TWIN_NAMES = ("smiling", "smiling, mouth open", "not smiling", "mouth open")


@dataclass(frozen=True)
class FeatureSpace:
    """Pixels -> the top principal components of real images: mean_ (D,), components_ (k, D)."""

    mean_: np.ndarray
    components_: np.ndarray

    def transform(self, images: np.ndarray) -> np.ndarray:
        """(N, C, H, W) in [0, 1] (or uint8) -> (N, k) float64."""
        return (flat_floats(images) - self.mean_) @ self.components_.T


def flat_floats(images: np.ndarray) -> np.ndarray:
    """(N, ...) uint8 in 0..255 or floats in [0, 1] -> (N, D) float64 in [0, 1]."""
    x = np.asarray(images).reshape(len(images), -1)
    return x / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)


def fit_feature_space(images: np.ndarray, n_components: int = N_COMPONENTS) -> FeatureSpace:
    """PCA of (N, ...) images by the SVD of the centred pixels (N >= n_components)."""
    x = flat_floats(images)
    if len(x) < n_components:
        raise ValueError(f"need at least {n_components} images, got {len(x)}")
    mean = x.mean(0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    return FeatureSpace(mean, vt[:n_components])


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to features a (N, k) and b (M, k):
    |mu_a - mu_b|^2 + tr(Sa + Sb - 2 (Sa^1/2 Sb Sa^1/2)^1/2), by symmetric eigen-decompositions
    (no scipy, and no complex parts from an unsymmetric matrix square root)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(cov_a)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace = np.trace(cov_a) + np.trace(cov_b) - 2 * np.sqrt(np.clip(cross, 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + max(trace, 0.0))


def real_sets(dataset: Dataset, seed: int = 0) -> tuple[FeatureSpace, np.ndarray]:
    """(the feature space fitted on N_SPACE_IMAGES training images, the features of N_SAMPLES
    held-out images): the reference every model's prior samples are compared with."""
    rng = np.random.default_rng(seed)
    train, test = dataset.train_indices, dataset.test_indices
    space_rows = np.sort(rng.choice(train, min(N_SPACE_IMAGES, len(train)), replace=False))
    test_rows = np.sort(rng.choice(test, min(N_SAMPLES, len(test)), replace=False))
    space = fit_feature_space(dataset.pixels[space_rows], min(N_COMPONENTS, len(space_rows)))
    return space, space.transform(dataset.pixels[test_rows])


def prior_frechet(
    decode: Coder, latent_dim: int, space: FeatureSpace, real: np.ndarray, seed: int = 0
) -> float:
    """Frechet distance of decodes of len(real) draws z ~ N(0, I) to the real features."""
    z = np.random.default_rng(seed).standard_normal((len(real), latent_dim)).astype(np.float32)
    return frechet_distance(space.transform(decode(z)), real)


@dataclass(frozen=True)
class SmileTwins:
    """Held-out faces with Smiling = 0 and a closed mouth, and the same people drawn in every
    TWIN_STATES state: images (4, P, C, H, W) uint8, [0] the smiling twin with a closed mouth,
    [2] the faces as they are."""

    indices: np.ndarray
    images: np.ndarray


def smile_twins(faces: Dataset, seed: int = 0, n_people: int = N_PEOPLE) -> SmileTwins:
    """The first n_people held-out faces with neither Smiling nor Mouth_Slightly_Open, drawn
    again by the renderer with those two columns set (faces' nuisance depends only on the seed
    and the face's index, so only the mouth changes). seed: the faces dataset's."""
    smile, mouth = (ATTRIBUTE_NAMES.index(n) for n in ("Smiling", "Mouth_Slightly_Open"))
    neutral = (faces.attributes[:, smile] == 0) & (faces.attributes[:, mouth] == 0)
    people = np.flatnonzero(neutral & faces.test_mask)[:n_people]
    if len(people) < n_people:
        raise ValueError(f"only {len(people)} held-out neutral faces, {n_people} asked for")
    size, first = faces.image_shape[1], people[-1] + 1  # rows render in order: draw 0..last
    states = []
    for smiling, open_mouth in TWIN_STATES:
        attributes = faces.attributes[:first].copy()
        attributes[:, smile], attributes[:, mouth] = smiling, open_mouth
        states.append(render_faces(attributes, size, seed)[people])
    return SmileTwins(people, np.stack(states))


def attribute_vector(
    encode: Coder, dataset: Dataset, attribute: str, n_images: int = N_VECTOR_IMAGES
) -> np.ndarray:
    """(K,) mean code of the images with attribute minus mean code of those without, over the
    first n_images training images (the smile vector: attribute "Smiling" on the faces)."""
    rows = dataset.train_indices[:n_images]
    z = encode(dataset.pixels[rows])
    y = dataset.attributes[rows, dataset.attribute_names.index(attribute)].astype(bool)
    return z[y].mean(0) - z[~y].mean(0)


@dataclass(frozen=True)
class SmileEdit:
    """gain: 1 - MSE(edit, twin) / MSE(reconstruction, twin), pooled over people (1: the edit
    lands on the model's own smiling twin; 0: no closer than doing nothing); nearest: the share
    of edits nearest each TWIN_STATES twin (by MSE), the target first."""

    gain: float
    nearest: tuple[float, ...]


def twin_gain(edited: np.ndarray, recon: np.ndarray, target: np.ndarray) -> float:
    """1 - MSE(edited, target) / MSE(recon, target), pooled: 1 when an edit lands on the model's
    reconstruction of the true twin (target), 0 when it is no closer than doing nothing."""
    return float(1 - np.mean((edited - target) ** 2) / np.mean((recon - target) ** 2))


def smile_edit(encode: Coder, decode: Coder, twins: SmileTwins, v: np.ndarray) -> SmileEdit:
    """The edit z + v of each neutral face against the model's reconstructions of its twins."""
    recon_twins = np.stack([decode(encode(images)) for images in twins.images])  # (4, P, ...)
    z = encode(twins.images[2])
    edited, recon = decode(z + v), recon_twins[2]
    gain = twin_gain(edited, recon, recon_twins[0])
    distances = ((recon_twins - edited[None]) ** 2).reshape(len(TWIN_STATES), len(z), -1).mean(-1)
    counts = np.bincount(distances.argmin(0), minlength=len(TWIN_STATES))
    return SmileEdit(gain, tuple(float(c) / len(z) for c in counts))


@dataclass(frozen=True)
class SpikeEdit:
    """ "Add a spike" (z + v, v the Spike vector) on held-out waves without one. gain: as the
    smile's, towards the model's reconstruction of the same wave drawn with a spike (the spike
    falls where the generator puts it, which no code of the wave without it holds, so 1 is out
    of reach); shown: the share of edits where waves.has_spike finds a spike; before: the share
    of the reconstructions (no edit); twins: the share of the twins' reconstructions (what the
    model draws of a real spike); kept: the share of edits whose trend (rising or falling, by
    the least-squares slope) is the wave's own."""

    gain: float
    shown: float
    before: float
    twins: float
    kept: float


def spike_edit(
    encode: Coder,
    decode: Coder,
    waves: Dataset,
    v: np.ndarray,
    seed: int = 0,
    n_waves: int = N_PEOPLE,
) -> SpikeEdit:
    """The edit z + v (v: the Spike vector, attribute_vector) of the first n_waves held-out
    waves without a spike, against the generator's twins (seed: the waves dataset's)."""
    spike = waves.attribute_names.index("Spike")
    rows = np.flatnonzero(waves.test_mask & (waves.attributes[:, spike] == 0))[:n_waves]
    twins, _ = counterfactual(waves.attributes[rows], "Spike", seed, rows)
    z = encode(waves.pixels[rows])
    recon, edited = decode(z), decode(z + v)
    twin_recon = decode(encode(twins))
    rising = waves.attributes[rows, waves.attribute_names.index("Rising")].astype(bool)
    return SpikeEdit(
        gain=twin_gain(edited, recon, twin_recon),
        shown=float(has_spike(edited).mean()),
        before=float(has_spike(recon).mean()),
        twins=float(has_spike(twin_recon).mean()),
        kept=float(((slopes(edited) > 0) == rising).mean()),
    )


def slopes(signals: np.ndarray) -> np.ndarray:
    """(N,) least-squares slope of each signal (N, 1, T, 1) over its steps."""
    x = signals.reshape(len(signals), -1)
    t = np.arange(x.shape[1]) - (x.shape[1] - 1) / 2
    return (x - x.mean(1, keepdims=True)) @ t / (t @ t)
