"""Shared by the AppTest modules: the app served from a runs folder of small default models."""

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from training.config import TrainConfig
from training.data import load_dataset
from training.recipe import train_side_by_side

APP = str(Path(__file__).resolve().parents[1] / "explorer" / "app.py")


def train_default_digits(runs: Path) -> None:
    """Small default digits models in runs/default/digits, so that pages open at once."""
    train_side_by_side(load_dataset("digits"), ("ae", "vae"),
                       TrainConfig(epochs=5, batch_size=128, precision="fp32"),
                       runs / "default" / "digits")  # fmt: skip


def fresh_app(runs: Path, monkeypatch: pytest.MonkeyPatch, timeout: float) -> AppTest:
    """The app on `runs`, with Streamlit's server-wide caches emptied (no models or data
    from another test's runs folder)."""
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(runs))
    st.cache_resource.clear()
    st.cache_data.clear()
    return AppTest.from_file(APP, default_timeout=timeout)
