"""The Lesson's own views, for the steps no instrument covers: reconstructions, AE vs PCA, prior
samples, interpolation and the smile. Each is show(pair, key), as an instrument's."""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer.core import display, latent
from explorer.core.lesson import reconstruction_errors, smile_alpha, smile_edits
from explorer.core.model_pair import KINDS, ModelPair
from explorer.ui import draw

N_EXAMPLES = 8  # images per row of examples


TILE_PX = 84  # on screen per image: a row of 8 stays within a laptop's width, and 3 rows in view
HALF_TILE_PX = 64  # six in half the page's width at 1280x720
# Prior samples: 16 draws as 2 rows of 8 per model, each as wide as its column. Wide and low, the
# two grids and their captions fit under the answered question at 1280x720 and 1440x900, normal
# and presenting; a 4 x 4 grid was twice as tall and ran off the bottom.
PRIOR_COLS = 8
PRIOR_SIDE = 1200  # px wide at most, in whole repeated pixels: about twice a column's width


def tiles(images: np.ndarray, caption: str, tile_px: int = TILE_PX) -> None:
    """One row of images, with a caption under it (tile_px on screen each)."""
    width = tile_px * len(images)
    st.image(
        display.display(display.tile(images, len(images)), side=2 * width),
        caption=caption,
        output_format="PNG",
        width=width,
    )


def example_rows(pair: ModelPair) -> np.ndarray:
    """The first N_EXAMPLES plotted points: the same examples on every screen in the class."""
    return np.arange(min(N_EXAMPLES, len(pair.indices)))


def reconstruction(pair: ModelPair, key: str) -> None:
    rows = example_rows(pair)
    pixels, k = int(np.prod(pair.dataset.image_shape)), pair.latent_dim
    st.caption(
        f"{pixels} pixels in, a code of {k} numbers, {pixels} pixels out "
        f"({pixels / k:.0f}x compression)."
    )
    tiles(np.stack([pair.image(i) for i in rows]), "the images")
    for kind in KINDS:
        tiles(pair.decode(kind, pair.codes[kind][rows]), f"{kind.upper()} reconstructions")
    st.markdown("**Your own digit:** draw one, and both models compress and rebuild it.")
    draw.pad(pair, beside_maps=False)


def ae_vs_pca(pair: ModelPair, key: str) -> None:
    rows = example_rows(pair)
    tiles(np.stack([pair.image(i) for i in rows]), "the images")
    tiles(pair.decode("ae", pair.codes["ae"][rows]), "AE reconstructions")
    tiles(
        np.stack([pair.pca_reconstruct(i) for i in rows]),
        f"PCA reconstructions ({pair.pca.n_components_} components)",
    )
    errors = pair.shared("lesson_errors", lambda: reconstruction_errors(pair))
    st.table({"model": list(errors), "mean squared error per pixel": list(errors.values())})


def prior_samples(pair: ModelPair, key: str) -> None:
    grids = st.columns(2)  # the seed's input goes under them: above, it pushed them off screen
    seed = st.number_input("Seed", 0, 10_000, 0, key=f"{key}_seed")
    z = latent.sample_prior(16, pair.latent_dim, np.random.default_rng(seed))
    for column, kind in zip(grids, KINDS, strict=True):
        with column:  # "stretch": a fixed width overflowed a narrower column onto the next
            grid = display.tile(pair.decode(kind, z), PRIOR_COLS)
            st.image(
                display.display(grid, side=PRIOR_SIDE),
                output_format="PNG",
                caption=f"{kind.upper()} decodes 16 draws from N(0, I)",
                width="stretch",
            )


def interpolation(pair: ModelPair, key: str) -> None:
    labels = pair.dataset.labels
    first, second = 0, 1
    if labels is not None:  # two different classes, so the walk has somewhere to go
        classes = labels[pair.indices]
        second = int(np.flatnonzero(classes != classes[first])[0])
    method = st.radio("Path", ["linear", "spherical"], horizontal=True, key=f"{key}_method")
    for kind in KINDS:
        codes = pair.codes[kind]
        path = latent.interpolate(codes[first], codes[second], 10, method)
        tiles(pair.decode(kind, path), f"{kind.upper()}: from point #{first} to #{second}")


def smile(pair: ModelPair, key: str) -> None:
    if "Smiling" not in pair.dataset.attribute_names:
        st.warning("These images have no Smiling attribute: this step needs the faces.")
        return
    start = min(smile_alpha(pair), 3.0)  # the VAE's group gap, within the slider
    alpha = st.slider(
        "alpha (spreads of the data along the vector; it starts at the VAE's gap "
        "between frowning and smiling faces)",
        0.0,
        3.0,
        start,
        0.1,
        key=f"{key}_alpha",
    )
    for column, kind in zip(st.columns(2), KINDS, strict=True):
        before, after = smile_edits(pair, kind, alpha, n_faces=6)
        with column:
            tiles(before, f"{kind.upper()}: six frowning faces", HALF_TILE_PX)
            tiles(
                after,
                f"{kind.upper()}: the same plus {alpha:g} spreads of the smile vector",
                HALF_TILE_PX,
            )


VIEWS = {
    "reconstruction": reconstruction,
    "ae_vs_pca": ae_vs_pca,
    "prior_samples": prior_samples,
    "interpolation": interpolation,
    "smile": smile,
}
