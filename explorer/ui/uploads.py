"""Uploaded files: who may upload (the teacher key), how much (size, and a rate per browser),
and images prepared like the dataset's.

Streamlit keeps an upload in this session's memory only: nothing here writes one to disk or to a
cache another session could name, so one student's file is never another's to load."""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer.core.display import markdown_text
from explorer.core.model_pair import ModelPair
from explorer.server import classroom
from explorer.ui import state, teacher
from training.data import DatasetError, prepare_image

MAX_UPLOAD_MB = 20  # also server.maxUploadSize in .streamlit/config.toml
UPLOADS_PER_MINUTE = 10  # new files per browser: a class's worth of experiments, not a flood
SEEN = "uploads_seen"  # file ids this session has counted against the rate


@st.cache_resource
def _rate() -> classroom.RateLimit:
    return classroom.RateLimit(UPLOADS_PER_MINUTE, 60.0)


def file_uploader(label: str, types: list[str], key: str, where=st):
    """A file uploader that returns the file only when this session may use it: the teacher key
    (when one is set; without it the uploader is not even shown), the size limit and the rate.
    Otherwise None, after saying why."""
    if not teacher.allowed("upload files"):
        return None
    file = where.file_uploader(label, type=types, key=key)
    if file is None or too_large(file) or too_fast(file):
        return None
    return file


def too_large(*files) -> bool:
    """Whether an upload is over the limit, after saying so."""
    if any(f.size > MAX_UPLOAD_MB * 2**20 for f in files):
        st.error(f"An upload is larger than {MAX_UPLOAD_MB} MB: refused.")
        return True
    return False


def too_fast(file) -> bool:
    """Whether this browser is over its upload rate, after saying so. A file counts once, however
    many reruns it stays in its uploader for."""
    seen = st.session_state.setdefault(SEEN, set())
    if file.file_id in seen:
        return False
    if not _rate().take(state.owner()):
        wait = max(1, round(_rate().wait_s(state.owner())))
        st.error(f"At most {UPLOADS_PER_MINUTE} uploads a minute: try again in {wait} s.")
        return True
    seen.add(file.file_id)
    return False


def uploaded_image(pair: ModelPair, key: str) -> np.ndarray | None:
    """An uploaded PNG/JPEG prepared like the dataset's images (C, H, W), or None after saying
    why not (nothing uploaded, not allowed, too large, unreadable)."""
    file = file_uploader("Your image (PNG or JPEG)", ["png", "jpg", "jpeg"], key)
    if file is None:
        return None
    try:
        return prepare_image(file.getvalue(), pair.dataset, file.name)
    except DatasetError as e:  # it names the file: the uploader's own name for it
        st.error(markdown_text(e, 500))
        return None
