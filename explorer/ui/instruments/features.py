"""Denoising and the encoder as a feature extractor: a denoising AE beside the plain AE on the
same noisy images, and a linear probe on AE, VAE and PCA codes (explorer/core/features.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from explorer.core import concepts, display, features
from explorer.core.model_pair import ModelPair
from explorer.ui import resources
from explorer.ui.instruments import Instrument
from training.evaluate import decode_all, encode_all
from training.models import AE

# A denoising AE for this few training images trains on page load (digits: 1,617 images, 2-3 s
# here); for more, a button says how long it takes.
AUTO_TRAIN_IMAGES = 5000
N_SHOWN = 8  # test images shown noisy, denoised and clean
KIND_NAMES = {"ae": "AE", "vae": "VAE", "pca": "PCA"}


@st.cache_resource(show_spinner=False)
def _denoisers() -> dict:
    """(dataset name, size, model config, training config) -> trained denoising AE, shared by
    every session: a dict, so that a page can ask whether one exists without training it."""
    return {}


def denoiser(pair: ModelPair, key: str) -> AE | None:
    """The denoising AE for the pair's dataset and AE architecture: trained now when that is
    quick, else after a button press; None until then."""
    model, config = features.denoising_configs(pair.models["ae"].config, pair.dataset)
    store, name = _denoisers(), (pair.dataset.name, pair.dataset.n_samples, model, config)
    if name not in store:
        ae, n_train = pair.models["ae"], len(pair.dataset.train_indices)
        if n_train > AUTO_TRAIN_IMAGES:
            estimate = lambda: features.training_seconds(pair.dataset, model, config, ae)  # noqa: E731
            seconds = pair.shared(("denoiser_seconds", model, config), estimate)
            label = f"Train a denoising AE (about {max(1, round(seconds))} s)"
            if not st.button(label, key=f"{key}_train"):
                st.caption("A denoising AE has the pair's AE architecture but is trained on "
                           "noisy inputs, with the clean image as the target.")  # fmt: skip
                return None
        dataset = pair.dataset.name
        with (
            st.spinner(f"Training a denoising AE on {dataset}..."),
            resources.job_manager().hold(f"denoising AE for {dataset}", dataset),  # cap counts it
        ):
            store[name] = features.train_denoising_ae(pair.dataset, model, config, ae)
    return store[name]


def show_denoising(pair: ModelPair, key: str) -> None:
    st.subheader("Denoising")
    dae = denoiser(pair, key)
    if dae is None:
        return
    left, right = st.columns(2)
    std = left.slider("Noise (standard deviation)", 0.0, 1.0, features.NOISE_STD, 0.05,
                      key=f"{key}_noise")  # fmt: skip
    seed = right.number_input("Seed (which images, which noise)", 0, 10_000, 0, key=f"{key}_seed")
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(pair.dataset.test_indices, N_SHOWN, replace=False))
    clean = pair.dataset.floats(rows)
    noisy = features.add_noise(clean, std, seed)
    outputs = {
        "Noisy input": noisy,
        "Denoising AE": decode_all(dae, encode_all(dae, noisy)),
        "Plain AE": pair.decode("ae", pair.encode("ae", noisy)),
    }
    captions = {name: f"{name}: MSE to clean {features.per_image_mse(x, clean).mean():.4f}"
                for name, x in outputs.items()}  # fmt: skip
    panels = [*((captions[n], x) for n, x in outputs.items()), ("Clean", clean)]
    for column, (caption, images) in zip(st.columns(4), panels, strict=True):
        column.image(display.display(display.tile(images, 4), side=300), caption=caption)
    st.caption(f"The denoising AE was trained with noise {features.NOISE_STD}; both models "
               "see the same noisy test images.")  # fmt: skip


def show_probe(pair: ModelPair, key: str) -> None:
    st.subheader("The encoder as a feature extractor: a linear probe")
    found = features.targets(pair.dataset)
    if not found:
        st.info("This dataset has no labels or attributes for a probe to predict.")
        return
    names = list(found)
    target = names[0]
    if len(names) > 1:
        target = st.selectbox(
            "Predict", names, concepts.preferred_index(names), key=f"{key}_target"
        )
    y, class_names = found[target]
    with st.spinner("Encoding images and fitting the probes..."):
        codes = pair.shared(("probe_codes",), lambda: features.probe_codes(pair))
        predicted = pair.shared(("probe", target),
                                lambda: features.probe_predictions(codes, y))  # fmt: skip
    if predicted is None:
        st.info(f"The training images hold one value of {display.markdown_text(target)} only: "
                "nothing to predict.")  # fmt: skip
        return
    truth = y[codes.test_rows]
    table, matrix = st.columns([1, 2])
    rows = [(KIND_NAMES[k], f"{features.accuracy(truth, p):.1%}") for k, p in predicted.items()]
    table.dataframe(pd.DataFrame(rows, columns=["codes", "probe accuracy"]), hide_index=True)
    table.caption(f"{pair.latent_dim} numbers per image for each. Always guessing the most "
                  f"common answer scores {features.chance(truth):.1%}. Fitted on "
                  f"{len(codes.train_rows)} training images, scored on {len(truth)} test "
                  "images: the points on the maps.")  # fmt: skip
    kind = table.radio("Confusion matrix of", list(predicted), format_func=KIND_NAMES.get,
                       horizontal=True, key=f"{key}_kind")  # fmt: skip
    counts = features.confusion_matrix(truth, predicted[kind], len(class_names))
    title = f"{KIND_NAMES[kind]} codes: predicted {target} against the truth"
    matrix.plotly_chart(features.confusion_figure(counts, class_names, title), key=f"{key}_cm")


def show(pair: ModelPair, key: str) -> None:
    show_denoising(pair, key)
    show_probe(pair, key)


INSTRUMENT = Instrument(
    key="features",
    title="Denoising and features",
    explanation=(
        "An autoencoder can be taught to clean images: a denoising AE sees noisy inputs but is "
        "scored against the clean originals, so it learns what a real image looks like and "
        "pushes the noise away. Move the noise slider and compare it with the plain AE. The "
        "encoder alone is also a feature extractor: its few numbers per image keep what matters. "
        "A simple linear classifier (a probe) trained on those numbers shows how much they say "
        "about the label, for the AE, the VAE and PCA with the same number of components."
    ),
    show=show,
)
