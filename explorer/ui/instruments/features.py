"""Denoising and the encoder as a feature extractor: a denoising AE beside the plain AE on the
same noisy images, and a linear probe on AE, VAE and PCA codes (explorer/core/features.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from explorer.core import concepts, display, features
from explorer.core.model_pair import ModelPair
from explorer.server import defaults, trainers
from explorer.ui import resources
from explorer.ui.instruments import Instrument
from training.evaluate import decode_all, encode_all
from training.models import AE

# A denoising AE for this few training images trains at once and the page waits for it (digits:
# 1,617 images, 2-3 s here); for more, a button says how long it takes. Either way it trains in
# the server's registry (explorer/server/trainers.py), not in the script run.
AUTO_TRAIN_IMAGES = 5000
QUICK_WAIT_S = 60  # the longest a page waits for a quick one before it shows progress instead
N_SHOWN = 8  # test images shown noisy, denoised and clean
KIND_NAMES = {"ae": "AE", "vae": "VAE", "pca": "PCA"}


def denoiser(pair: ModelPair, key: str) -> AE | None:
    """The denoising AE for the pair's dataset and AE architecture: started now when that is
    quick, else after a button press; None (after showing why or how far) until it is ready."""
    model, config = features.denoising_configs(pair.models["ae"].config, pair.dataset)
    registry, quick = resources.trainers(), len(pair.dataset.train_indices) <= AUTO_TRAIN_IMAGES
    task = registry.get(trainers.denoiser_key(pair.dataset, model, config))
    if task is None or task.state().status == "failed":  # a failure was logged: try again
        if not quick and not train_button(pair, model, config, key):
            return None
        task = trainers.ensure_denoiser(registry, pair.dataset, model, config, pair.models["ae"])
    if quick and not task.state().done:
        with st.spinner(f"Training a denoising AE on {pair.dataset.name}..."):
            task.join(QUICK_WAIT_S)
    if task.state().status == "finished":
        return task.result
    denoiser_progress(task)
    return None


def train_button(pair: ModelPair, model, config, key: str) -> bool:
    """The button that starts a slow denoiser, labelled with its time measured here."""
    ae = pair.models["ae"]
    estimate = lambda: features.training_seconds(pair.dataset, model, config, ae)  # noqa: E731
    seconds = pair.shared(("denoiser_seconds", model, config), estimate)
    if st.button(f"Train a denoising AE (about {max(1, round(seconds))} s)", key=f"{key}_train"):
        return True
    st.caption(
        "A denoising AE has the pair's AE architecture but is trained on noisy inputs, "
        "with the clean image as the target."
    )
    return False


@st.fragment(run_every=1.0)
def denoiser_progress(task: trainers.Task) -> None:
    """How far the denoiser is; the whole page reruns once it is ready."""
    state = task.state()
    if state.status == "finished":
        st.rerun()
    if state.status == "failed":
        st.error(f"Training the denoising AE failed: {display.markdown_text(state.message, 500)}")
        return
    st.progress(
        state.fraction, text=f"{state.message} ({defaults.describe_time(state.seconds_left)})"
    )


def show_denoising(pair: ModelPair, key: str) -> None:
    st.subheader("Denoising")
    dae = denoiser(pair, key)
    if dae is None:
        return
    left, right = st.columns(2)
    std = left.slider(
        "Noise (standard deviation)", 0.0, 1.0, features.NOISE_STD, 0.05, key=f"{key}_noise"
    )
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
    captions = {
        name: f"{name}: MSE to clean {features.per_image_mse(x, clean).mean():.4f}"
        for name, x in outputs.items()
    }
    panels = [*((captions[n], x) for n, x in outputs.items()), ("Clean", clean)]
    for column, (caption, images) in zip(st.columns(4), panels, strict=True):
        column.image(display.display(display.tile(images, 4), side=300), caption=caption)
    st.caption(
        f"The denoising AE was trained with noise {features.NOISE_STD}; both models "
        "see the same noisy test images."
    )


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
        predicted = pair.shared(("probe", target), lambda: features.probe_predictions(codes, y))
    if predicted is None:
        st.info(
            f"The training images hold one value of {display.markdown_text(target)} only: "
            "nothing to predict."
        )
        return
    truth = y[codes.test_rows]
    table, matrix = st.columns([1, 2])
    rows = [(KIND_NAMES[k], f"{features.accuracy(truth, p):.1%}") for k, p in predicted.items()]
    table.dataframe(pd.DataFrame(rows, columns=["codes", "probe accuracy"]), hide_index=True)
    table.caption(
        f"{pair.latent_dim} numbers per image for each. Always guessing the most "
        f"common answer scores {features.chance(truth):.1%}. Fitted on "
        f"{len(codes.train_rows)} training images, scored on {len(truth)} test "
        "images: the points on the maps."
    )
    kind = table.radio(
        "Confusion matrix of",
        list(predicted),
        format_func=KIND_NAMES.get,
        horizontal=True,
        key=f"{key}_kind",
    )
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
