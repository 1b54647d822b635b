"""The waves (signals) in the app headless: the shipped GRU pair opens at once and decodes in the
browser (GRU cells reading frames of 16 steps), and "add a spike" (the Concepts page's default on waves) makes a vector whose edit draws a bump where
the waves' spikes are. (In Chromium: test_live_browser.py, test_app_browser.py.)"""

import numpy as np
import pytest
from apptest import component, fresh_app

from explorer.core import concepts
from explorer.server import runs as server_runs
from explorer.ui import resources, state
from explorer.web.web_decoder import read_header
from training.checkpoints import load_checkpoint
from training.data import DataOptions, load_dataset
from training.data.waves import N_STEPS, SPIKE_HALF_WIDTH, SPIKE_SPAN
from training.evaluate import decode_all, encode_all


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_DATASET", "waves")
    at = fresh_app(tmp_path / "runs", monkeypatch, timeout=90)
    at.run()
    assert not at.exception
    return at


def test_waves_open_on_the_shipped_gru_pair_at_once_decoded_in_the_browser(app):
    assert resources.job_manager().states() == []  # nothing trains: the pair ships
    assert len(app.get("plotly_chart")) == 2
    header = read_header(component(app, "decoder_weights").proto.bytes)
    for kind in ("ae", "vae"):
        ops = {op["op"]: op for op in header["models"][kind]["ops"]}
        assert ops["gru"]["steps"] == N_STEPS // 16 and ops["linear_rows"]["out"] == 16
        assert header["models"][kind]["image_shape"] == [1, N_STEPS, 1]


def spike_edits(folder, alpha: float, u: np.ndarray, kind: str = "vae") -> tuple:
    """The kind's reconstructions and edits z + alpha * spread * u of 200 held-out waves
    without a spike, as the page makes them (N, T) each."""
    waves = load_dataset("waves", options=DataOptions())
    model = load_checkpoint(folder / f"{kind}.safetensors").model
    spike = waves.attribute_names.index("Spike")
    rows = np.flatnonzero(waves.test_mask & (waves.attributes[:, spike] == 0))[:200]
    codes = encode_all(model, waves.pixels, indices=waves.train_indices[:2000])
    step = concepts.spread(codes, u)
    z = encode_all(model, waves.pixels, indices=rows)
    recon = decode_all(model, z).reshape(len(rows), -1)
    edited = decode_all(model, (z + alpha * step * u).astype(np.float32)).reshape(len(rows), -1)
    return recon, edited


def test_add_a_spike_is_the_default_vector_and_its_edit_draws_a_bump_at_the_spikes(app):
    app.switch_page("views/concepts.py").run()
    assert app.selectbox(key="concept_attribute").value == "Spike"
    app.button(key="make_concept").click().run()
    assert not app.exception and not app.error
    concept = app.session_state[state.CONCEPTS]["Spike"]
    alpha = app.session_state[state.ALPHA]
    captions = [c for image in app.get("image") for c in image.captions]
    assert {"VAE reconstruction", f"VAE, alpha {alpha:+.1f}"} <= set(captions)
    folder = server_runs.default_folder("waves")
    for kind in ("ae", "vae"):
        recon, edited = spike_edits(folder, alpha, concept.vectors[kind], kind)
        rise = (edited - recon).mean(0)  # (T,): what the edit adds, on average
        lo, hi = (int(f * N_STEPS) for f in SPIKE_SPAN)
        where = slice(lo - SPIKE_HALF_WIDTH, hi + SPIKE_HALF_WIDTH)
        outside = np.r_[rise[: where.start], rise[where.stop :]]
        assert rise[where].max() > SPIKE_RISE, kind  # a bump where the spikes are
        assert rise[where].max() > 3 * np.abs(outside).max(), kind  # and not elsewhere
