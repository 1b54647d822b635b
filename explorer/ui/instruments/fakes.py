"""Fake detection: where an image's anomaly scores fall among the test images', and ROC curves
for the test images against images the models never learned (explorer/core/anomaly.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from explorer.core import anomaly, display
from explorer.core.anomaly import COLUMNS, column_name
from explorer.core.model_pair import ModelPair
from explorer.ui import resources, uploads
from explorer.ui.instruments import Instrument

PLACES = ("an out-of-distribution image", "a data point", "your image")
SHORT_NAMES = {
    ("ae", "recon"): "AE error",
    ("vae", "recon"): "VAE error",
    ("vae", "neg_elbo"): "VAE -ELBO",
}


def report(pair: ModelPair) -> anomaly.FakeReport:
    """The scores of the test images and of every OOD set, once per pair for every session."""
    root = resources.data_root()
    with st.spinner("Scoring the test images and the out-of-distribution sets..."):
        return pair.shared(("fakes", root), lambda: anomaly.fake_report(pair, root))


def chosen_image(pair: ModelPair, found: anomaly.FakeReport, ood: str, key: str):
    """(C, H, W) in [0, 1] and its caption: the image the user places on the histograms."""
    where, which = st.columns([2, 1])
    place = where.radio("Place on the histograms", PLACES, horizontal=True, key=f"{key}_place")
    if place == PLACES[0]:
        images = found.sets[ood]
        i = which.number_input(f"Image # of {ood}", 0, len(images) - 1, 0, key=f"{key}_ood_i")
        return images[i] / np.float32(255), f"{ood} #{i}"
    if place == PLACES[1]:
        i = which.number_input("Data point #", 0, len(pair.indices) - 1, 0, key=f"{key}_point")
        return pair.image(i), f"data point #{i}"
    with which:
        image = uploads.uploaded_image(pair, f"{key}_upload")
    return image, "your image"


def show(pair: ModelPair, key: str) -> None:
    found = report(pair)
    names = list(found.sets)
    ood = st.selectbox(
        "Out-of-distribution set",
        names,
        key=f"{key}_set",
        help="Images the models never learned: the dataset's own images "
        "changed, or another dataset's made the same shape.",
    )
    image, caption = chosen_image(pair, found, ood, key)
    marks = None
    picture, histograms = st.columns([1, 5])
    if image is not None:
        picture.image(display.display(image, side=140), caption=caption)
        marks = {c: float(v[0]) for c, v in anomaly.score_columns(pair, image[None]).items()}
    with histograms:
        fig = anomaly.score_histograms(found.in_scores, marks, found.out_scores[ood], ood)
        st.plotly_chart(fig, key=f"{key}_histograms")
        if marks is not None:
            st.dataframe(placement_table(found, marks, caption), hide_index=True)
    curve, table = st.columns(2)
    curve.plotly_chart(anomaly.roc_figure(found, ood), key=f"{key}_roc")
    table.markdown(
        "**ROC AUC, test images vs each set** (1 = always told apart, 0.5 = chance; "
        "error = reconstruction error)"
    )
    table.dataframe(auc_table(found), hide_index=True)
    n = len(next(iter(found.in_scores.values())))
    table.caption(
        f"Scored on {n} test images and as many (at most 500 from another dataset) "
        "of each set. The VAE's ELBO uses one sampled code per image."
    )


def placement_table(found: anomaly.FakeReport, marks: dict, caption: str) -> pd.DataFrame:
    """The chosen image's score per column and the share of test images scoring lower."""
    below = {c: anomaly.share_below(marks[c], found.in_scores[c]) for c in COLUMNS}
    rows = [(column_name(*c), f"{marks[c]:.4g}", f"{below[c]:.0%}") for c in COLUMNS]
    return pd.DataFrame(rows, columns=["score", f"{caption} (red line)", "test images below"])


def auc_table(found: anomaly.FakeReport) -> pd.DataFrame:
    aucs = found.aucs()
    rows = [
        {"set": name, **{SHORT_NAMES[c]: round(a[c], 3) for c in COLUMNS}}
        for name, a in aucs.items()
    ]
    return pd.DataFrame(rows)


INSTRUMENT = Instrument(
    key="fakes",
    title="Fake detection",
    explanation=(
        "A model of a population knows what its members look like, so it can help spot fakes. "
        "Each model encodes and decodes an image: an image like the training data comes back "
        "well (a small reconstruction error), an odd one comes back wrong. The VAE also gives "
        "the negative ELBO, how unlikely it finds the image. The histograms show these scores "
        "for the test images; the red line is your chosen image. The ROC curve says how well a "
        "score tells the test images from images the model never learned: the closer the area "
        "under it (AUC) is to 1, the better the detector."
    ),
    show=show,
)
