"""An AE and a VAE on one dataset, with what the explorer draws: codes of the plotted points,
their 2-D projections, and decoding. Pure torch + NumPy (cached by the app, tested directly)."""

from __future__ import annotations

import contextlib
import io
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from explorer.core.latent import Projection, fit_projection
from explorer.core.pca import PCA, fit_pca
from explorer.core.points import Bounds, important_coordinates
from training.atomic import atomic_write
from training.data import Dataset
from training.evaluate import decode_all, encode_all
from training.models import AE

if TYPE_CHECKING:  # imported where used: it imports scikit-learn, a second the app's start skips
    from explorer.core.concept_checks import DataRegion

KINDS = ("ae", "vae")
MAX_MAP_POINTS = 3000  # enough to show the structure; more only slows the browser


@dataclass(frozen=True)
class ModelPair:
    """indices: the dataset rows on the maps; codes/xy/projections per kind ("ae", "vae")."""

    dataset: Dataset
    models: dict[str, AE]
    indices: np.ndarray
    codes: dict[str, np.ndarray]
    projections: dict[str, Projection]
    pca: PCA
    label: str
    # What is built from this pair once for every session (see shared): key -> value.
    _shared: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def latent_dim(self) -> int:
        return self.models["ae"].config.latent_dim

    def xy(self, kind: str) -> np.ndarray:
        """(M, 2) map coordinates of the plotted points in the kind's map."""
        return self.projections[kind].to_plane(self.codes[kind])

    def decode(self, kind: str, z: np.ndarray) -> np.ndarray:
        """(N, K) codes -> (N, C, H, W) images in [0, 1] from the kind's decoder."""
        return decode_all(self.models[kind], np.asarray(z, dtype=np.float32))

    def encode(self, kind: str, images: np.ndarray) -> np.ndarray:
        """(N, C, H, W) images -> (N, K) codes (the VAE's means) from the kind's encoder."""
        codes = encode_all(self.models[kind], np.asarray(images, dtype=np.float32))
        return codes.astype(np.float64)

    def shared(self, key, build):
        """build()'s value for key, built once per pair and kept with it, so that every session
        and rerun gets the same object (read-only): the Explore maps' figures
        (figures.pair_maps) and the decoders for the browser (web_decoder.pair_bundle). Two
        sessions building at once both get the first value stored."""
        if key not in self._shared:
            self._shared.setdefault(key, build())
        return self._shared[key]

    @cached_property
    def regions(self) -> dict[str, DataRegion]:
        """Where each model's codes lie (edits beyond are warned of). Built on first use, by
        the Concepts page only: 10-40 ms per model that no other page should pay."""
        from explorer.core.concept_checks import data_region

        return {kind: data_region(codes) for kind, codes in self.codes.items()}

    @cached_property
    def bounds(self) -> Bounds:
        """The codes' extent per coordinate over both models: sliders and clipping use it."""
        return Bounds.of(*self.codes.values())

    @cached_property
    def slider_coordinates(self) -> list[int]:
        """The coordinates that matter most (at most 8), the sliders shown by default."""
        return important_coordinates(*self.codes.values())

    def attribute_values(self, name: str) -> np.ndarray:
        """(M,) 0/1 values of a binary attribute for the plotted points."""
        column = self.dataset.attribute_names.index(name)
        return self.dataset.attributes[self.indices, column].astype(int)

    def reconstruct(self, kind: str, index: int) -> np.ndarray:
        """(C, H, W): the kind's reconstruction of the plotted point number `index`."""
        return self.decode(kind, self.codes[kind][index : index + 1])[0]

    def image(self, index: int) -> np.ndarray:
        """(C, H, W) float32 in [0, 1]: the original image of the plotted point number `index`."""
        return self.dataset.floats(self.indices[index])

    def pca_xy(self) -> np.ndarray:
        """(M, 2) the plotted points on the first two principal axes of the images."""
        return self.pca.transform(self.flat_images())[:, :2]

    def pca_reconstruct(self, index: int) -> np.ndarray:
        """(C, H, W): PCA's reconstruction with latent_dim components, the linear baseline."""
        codes = self.pca.transform(self.image(index).reshape(1, -1))  # one row, not every image
        flat = self.pca.inverse_transform(codes)
        return np.clip(flat.reshape(self.dataset.image_shape), 0, 1)

    def flat_images(self) -> np.ndarray:
        """(M, C*H*W) float32: the plotted points' images (a few thousand, never all)."""
        return self.dataset.floats(self.indices).reshape(len(self.indices), -1)

    def classes(self, attribute: str | None = None) -> tuple[np.ndarray | None, tuple[str, ...]]:
        """Integer colour classes of the plotted points and their names: the class labels, or
        0/1 for a binary attribute ("no <attr>" / "<attr>")."""
        if attribute is not None:
            return self.attribute_values(attribute), (f"not {attribute}", attribute)
        if self.dataset.labels is None:
            return None, ()
        return self.dataset.labels[self.indices], self.dataset.class_names


@dataclass(frozen=True)
class PairCache:
    """Where a pair's codes and PCA are kept on disk (beside its checkpoints), and the key that
    must match for them to be used: whatever would change them (the data, the model files)."""

    path: Path
    key: str


def build_pair(
    dataset: Dataset,
    ae: AE,
    vae: AE,
    label: str,
    max_points: int = MAX_MAP_POINTS,
    seed: int = 0,
    cache: PairCache | None = None,
) -> ModelPair:
    """Encode a seeded subset of the data with both models and fit each map's projection
    (the identity for 2-D codes, PCA of the codes above 2). With cache, the codes and the
    images' PCA are read from it when its key matches, else computed and written to it: on
    faces they are 3 of a later start's 5 seconds."""
    if (
        ae.config.image_shape != dataset.image_shape
        or vae.config.image_shape != dataset.image_shape
    ):
        raise ValueError(
            f"the models take images {ae.config.image_shape} / {vae.config.image_shape}, "
            f"the dataset {dataset.name} has {dataset.image_shape}"
        )
    if ae.config.latent_dim != vae.config.latent_dim:
        raise ValueError(
            f"the AE has {ae.config.latent_dim} latent dimensions and the VAE "
            f"{vae.config.latent_dim}: a pair must share the latent size"
        )
    rng = np.random.default_rng(seed)
    n = dataset.n_samples
    indices = np.sort(rng.choice(n, size=min(n, max_points), replace=False))
    models = {"ae": ae.eval(), "vae": vae.eval()}
    key = cache and f"{cache.key}|{max_points}|{seed}"
    stored = read_cache(cache.path, key) if cache else None
    if stored is None:
        codes = {
            k: encode_all(m, dataset.pixels, indices=indices).astype(np.float64)
            for k, m in models.items()
        }
        flat = dataset.floats(indices).reshape(len(indices), -1)
        pca = fit_pca(flat, min(max(2, ae.config.latent_dim), *flat.shape), seed)
        if cache:
            write_cache(cache.path, key, codes, pca)
    else:
        codes, pca = stored
    projections = {k: fit_projection(c) for k, c in codes.items()}
    return ModelPair(dataset, models, indices, codes, projections, pca, label)


def read_cache(path: Path, key: str) -> tuple[dict[str, np.ndarray], PCA] | None:
    """(codes, PCA) stored at path under key; None when absent, unreadable or of another key."""
    try:
        with np.load(path, allow_pickle=False) as f:
            if str(f["key"]) != key:
                return None
            codes = {k: f[f"codes_{k}"] for k in KINDS}
            return codes, PCA(f["pca_mean"], f["pca_components"])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):  # damaged: built again
        return None


def write_cache(path: Path, key: str, codes: dict[str, np.ndarray], pca: PCA) -> None:
    """Store codes and PCA at path atomically; a failure (a full disk) only loses the cache."""
    buffer = io.BytesIO()
    np.savez(
        buffer,
        key=np.array(key),
        pca_mean=pca.mean_,
        pca_components=pca.components_,
        **{f"codes_{k}": c for k, c in codes.items()},
    )
    with contextlib.suppress(OSError), atomic_write(path) as f:
        f.write(buffer.getvalue())
