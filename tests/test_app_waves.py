"""The waves (signals) in the app headless: the shipped GRU pair opens at once and decodes in the
browser (GRU cells reading frames of 16 steps); the Concepts page starts on "add a spike", whose
edit draws a bump where the waves' spikes are, and a Rising vector turns falling waves upward.
(In Chromium: test_live_browser.py and test_app_browser.py.)"""

import numpy as np
import pytest
from apptest import component, component_data, fresh_app

from explorer.core import concepts
from explorer.server import runs as server_runs
from explorer.ui import resources, state
from explorer.web.web_decoder import read_header
from training import quality
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


def edits(attribute: str, alpha: float, u: np.ndarray, kind: str) -> tuple[np.ndarray, ...]:
    """The shipped kind's reconstructions and edits z + alpha * spread * u (as the page makes
    them) of 200 held-out waves without attribute, each (200, 1, T, 1)."""
    waves = load_dataset("waves", options=DataOptions())
    model = load_checkpoint(server_runs.default_folder("waves") / f"{kind}.safetensors").model
    column = waves.attribute_names.index(attribute)
    rows = np.flatnonzero(waves.test_mask & (waves.attributes[:, column] == 0))[:200]
    step = concepts.spread(encode_all(model, waves.pixels, indices=waves.train_indices), u)
    z = encode_all(model, waves.pixels, indices=rows)
    edited = (z + alpha * step * u).astype(np.float32)
    return decode_all(model, z), decode_all(model, edited)


def test_add_a_spike_is_the_first_vector_and_its_edit_draws_a_bump_where_spikes_are(app):
    app.switch_page("views/concepts.py").run()
    assert app.selectbox(key="concept_attribute").value == "Spike"
    assert any("**spike vector**" in c.value for c in app.caption)  # the intro's example
    app.button(key="make_concept").click().run()
    assert not app.exception and not app.error
    concept, alpha = app.session_state[state.CONCEPTS]["Spike"], app.session_state[state.ALPHA]
    # the live strip beside alpha: -alpha, 0, +alpha (seven lines squeezed into a third of the
    # page hid the spike)
    assert component_data(app, "alpha_scrub")["live"]["scrub"]["strip"] == 3
    lo, hi = (round(f * N_STEPS) for f in SPIKE_SPAN)  # where the waves' spikes peak
    near = np.zeros(N_STEPS, bool)
    near[lo - SPIKE_HALF_WIDTH : hi + SPIKE_HALF_WIDTH + 1] = True
    for kind in ("ae", "vae"):
        recon, edited = edits("Spike", alpha, concept.vectors[kind], kind)
        rise = (edited - recon).reshape(len(recon), -1).mean(0)  # what the edit adds
        assert rise[near].max() > 0.08, kind  # a bump (the spikes: 0.22 to 0.28 high)
        assert rise[near].max() > 10 * np.abs(rise[~near]).max(), kind  # and nothing else


def test_concepts_start_on_spike_and_a_rising_vector_turns_falling_waves_upward(app):
    app.switch_page("views/concepts.py").run()
    assert app.selectbox(key="concept_attribute").value == "Spike"  # "add a spike" first
    app.selectbox(key="concept_attribute").set_value("Rising").run()
    app.button(key="make_concept").click().run()
    assert not app.exception and not app.error
    concept = app.session_state[state.CONCEPTS]["Rising"]
    alpha = app.session_state[state.ALPHA]
    captions = [c for image in app.get("image") for c in image.captions]
    assert {"VAE reconstruction", f"VAE, alpha {alpha:+.1f}"} <= set(captions)
    for kind in ("ae", "vae"):
        before, after = map(quality.slopes, edits("Rising", alpha, concept.vectors[kind], kind))
        assert (before < 0).mean() > 0.95, kind  # the models draw falling waves falling
        assert (after > 0).mean() > 0.9, kind  # and the edit makes them rise
