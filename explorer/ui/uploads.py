"""Uploaded files: the size limit, and images prepared like the dataset's."""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer.core.model_pair import ModelPair
from training.data import DatasetError, prepare_image

MAX_UPLOAD_MB = 20  # also server.maxUploadSize in .streamlit/config.toml


def too_large(*files) -> bool:
    """Whether an upload is over the limit, after saying so."""
    if any(f.size > MAX_UPLOAD_MB * 2**20 for f in files):
        st.error(f"An upload is larger than {MAX_UPLOAD_MB} MB: refused.")
        return True
    return False


def uploaded_image(pair: ModelPair, key: str) -> np.ndarray | None:
    """An uploaded PNG/JPEG prepared like the dataset's images (C, H, W), or None after saying
    why not (nothing uploaded, too large, unreadable)."""
    file = st.file_uploader("Your image (PNG or JPEG)", type=["png", "jpg", "jpeg"], key=key)
    if file is None:
        return None
    if too_large(file):
        return None
    try:
        return prepare_image(file.getvalue(), pair.dataset, file.name)
    except DatasetError as e:
        st.error(str(e))
        return None
