"""Latent Explorer: `python -m streamlit run explorer/app.py` from the repository root."""

import torch

# One thread per request keeps decoding at milliseconds while a training job runs (NOTES.md).
torch.set_num_threads(1)

import streamlit as st  # noqa: E402  (after the thread setting, which must come first)

st.set_page_config(page_title="Latent Explorer", layout="wide")
navigation = st.navigation(
    [
        st.Page("pages/explore.py", title="Explore", icon=":material/map:", default=True),
        st.Page("pages/generate.py", title="Generate", icon=":material/casino:"),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    ]
)
navigation.run()
