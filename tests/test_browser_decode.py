"""The browser decode benchmark's pairs (benchmarks/browser_decode.py), without a browser: a
pair whose data is missing is skipped with a line that says so, and the table names each
pair's shape (a 28-row GRU, a signal read in frames)."""

from dataclasses import replace

from benchmarks.browser_decode import PAIRS, ensure_pairs, shape
from training.presets import RECURRENT_HIDDEN, SIGNAL_FRAME, default_model_config


def test_a_pair_without_its_data_is_skipped_and_said(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_DATA", str(tmp_path))  # no MNIST in it
    made, skipped = ensure_pairs(tmp_path / "runs", ["mnist-gru"])
    assert made == {}
    assert len(skipped) == 1 and skipped[0].startswith("mnist-gru: skipped")
    assert not (tmp_path / "runs").exists()


def test_the_gru_pairs_are_named_by_their_shape():
    assert PAIRS["mnist-gru"].arch == "gru" and PAIRS["waves-mlp"].arch == "mlp"
    mnist = default_model_config((1, 28, 28), "vae", "gru")
    assert shape(mnist) == f"gru {RECURRENT_HIDDEN[0]} x 28 steps of 1, 2-D"
    waves = default_model_config((1, 128, 1), "vae", "gru")
    frames = 128 // SIGNAL_FRAME
    assert shape(waves) == f"gru {RECURRENT_HIDDEN[0]} x {frames} steps of {SIGNAL_FRAME}, 8-D"
    assert shape(replace(mnist, arch="mlp", hidden=(512, 512))) == "mlp 512-512, 2-D"
