"""The generated waves: deterministic, attributes independent and visible in the values, and
counterfactuals that change one attribute and nothing else."""

import subprocess
import sys
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import median_filter
from scipy.stats import chi2_contingency

from training.data import DataOptions, load_dataset, waves
from training.data.waves import (
    ATTRIBUTE_NAMES,
    DEFAULT_N_WAVES,
    N_STEPS,
    SPIKE_HALF_WIDTH,
    SPIKE_SEEN,
    TREND,
    counterfactual,
    generate_waves,
    has_spike,
    load_waves,
    render_waves,
    wave_values,
)

ROOT = Path(__file__).resolve().parents[1]
QUARTER = N_STEPS // 4


@pytest.fixture(scope="module")
def sample():
    """2,000 signals as the models see them: (N, T) floats from the stored bytes, and (N, A)."""
    x, a = generate_waves(2000, seed=7)
    return x[:, 0, :, 0] / 255.0, a.astype(bool)


def column(a, name):
    return a[:, ATTRIBUTE_NAMES.index(name)]


def detrended(x):
    """x (N, T) minus each row's least-squares line."""
    t = np.arange(x.shape[1])
    fit = np.polynomial.polynomial.polyfit(t, x.T, 1)  # (2, N)
    return x - (fit[0][:, None] + fit[1][:, None] * t)


def test_signals_are_uint8_single_column_images_of_128_steps():
    x, a = generate_waves(10, seed=1)
    assert x.shape == (10, 1, N_STEPS, 1) and x.dtype == np.uint8
    assert a.shape == (10, len(ATTRIBUTE_NAMES)) and a.dtype == np.uint8
    assert set(np.unique(a)) <= {0, 1}


def test_same_seed_gives_identical_waves_and_another_seed_different_ones():
    x1, a1 = generate_waves(50, seed=3)
    x2, a2 = generate_waves(50, seed=3)
    x3, a3 = generate_waves(50, seed=4)
    assert np.array_equal(x1, x2) and np.array_equal(a1, a2)
    assert not np.array_equal(x1, x3) and not np.array_equal(a1, a3)


def test_the_first_waves_do_not_depend_on_how_many_are_drawn():
    small, a_small = generate_waves(30, seed=5)
    large, a_large = generate_waves(700, seed=5)
    assert np.array_equal(small, large[:30]) and np.array_equal(a_small, a_large[:30])


def test_every_pair_of_attributes_is_independent_at_the_default_size():
    _, a = generate_waves(DEFAULT_N_WAVES, seed=0)
    assert np.all(np.abs(a.mean(0) - 0.5) < 0.02), a.mean(0)
    for i, j in combinations(range(len(ATTRIBUTE_NAMES)), 2):
        table = np.histogram2d(a[:, i], a[:, j], bins=2)[0]
        p = chi2_contingency(table, correction=False).pvalue
        assert p > 0.01, (ATTRIBUTE_NAMES[i], ATTRIBUTE_NAMES[j], p)


def test_a_spike_stands_well_above_its_neighbourhood(sample):
    x, a = sample
    # the largest rise above a 9-step running median: a 5-step spike passes through it
    bump = (x - median_filter(x, size=(1, 9), mode="nearest")).max(1)
    spike = column(a, "Spike")
    assert (has_spike(x) == spike).mean() > 0.99  # all but a few told apart
    assert np.array_equal(has_spike(x), bump >= SPIKE_SEEN)
    assert np.median(bump[spike]) > 4 * np.median(bump[~spike])


def test_has_spike_reads_bytes_and_values_alike():
    signals, a = generate_waves(200, seed=4)
    assert np.array_equal(has_spike(signals), has_spike(signals / 255.0))
    assert (has_spike(signals) == column(a, "Spike")).mean() > 0.98


def test_high_frequency_moves_the_dominant_fft_bin_up(sample):
    x, a = sample
    despiked = median_filter(x, size=(1, 9), mode="nearest")  # a spike's broad spectrum out
    power = np.abs(np.fft.rfft(detrended(despiked), axis=1))
    dominant = power[:, 1:].argmax(1) + 1  # cycles per window
    high = column(a, "High_Frequency")
    assert np.median(dominant[high]) >= np.median(dominant[~high]) + 4
    assert ((dominant >= 4) == high).mean() > 0.995


def test_damping_shrinks_the_late_swing_against_the_early_one(sample):
    x, a = sample
    r = detrended(x)
    ratio = r[:, -QUARTER:].std(1) / r[:, :QUARTER].std(1)
    damped = column(a, "Damped")
    assert np.median(ratio[damped]) < 0.3 and 0.8 < np.median(ratio[~damped]) < 1.25
    # A quarter of a slow wave can sit near a peak and swing little: most, not all, told apart.
    assert ((ratio < 0.5) == damped).mean() > 0.95


def test_rising_signals_end_above_where_they_start_and_falling_ones_below(sample):
    x, a = sample
    change = x[:, -16:].mean(1) - x[:, :16].mean(1)
    rising = column(a, "Rising")
    assert (change[rising] > 0).all() and (change[~rising] < 0).all()


def test_values_stay_inside_the_unit_interval_without_clipping():
    _, a = generate_waves(2000, seed=0)
    for name in ATTRIBUTE_NAMES:  # the counterfactuals too
        flipped = counterfactual(a, name)[1]
        v = wave_values(flipped)
        assert v.min() > 0.02 and v.max() < 0.98


@pytest.mark.parametrize("name", ATTRIBUTE_NAMES)
def test_a_counterfactual_flips_one_attribute_and_redraws_the_same_signal(name):
    x, a = generate_waves(300, seed=11)
    twin, flipped = counterfactual(a, name, seed=11)
    k = ATTRIBUTE_NAMES.index(name)
    assert np.array_equal(flipped[:, k], 1 - a[:, k])
    assert np.array_equal(np.delete(flipped, k, 1), np.delete(a, k, 1))
    # Regenerated from the flipped attributes alone: the same signals.
    assert np.array_equal(twin, render_waves(flipped, seed=11))
    assert not np.array_equal(twin, x)
    # Flipped back: the original bytes exactly.
    assert np.array_equal(counterfactual(flipped, name, seed=11)[0], x)


def test_a_counterfactual_changes_only_what_its_attribute_draws():
    _, a = generate_waves(300, seed=2)
    v = wave_values(a, seed=2)
    spike = wave_values(counterfactual(a, "Spike", seed=2)[1], seed=2) - v
    moved = spike != 0  # the spike's 5 steps around its peak, nothing else
    assert (moved.sum(1) == 2 * SPIKE_HALF_WIDTH - 1).all()
    assert (np.diff(np.flatnonzero(moved[0])) == 1).all()
    trend = wave_values(counterfactual(a, "Rising", seed=2)[1], seed=2) - v
    t = np.arange(N_STEPS) / N_STEPS
    sign = np.where(column(a, "Rising"), -1, 1)[:, None]  # rising becomes falling
    np.testing.assert_allclose(trend, sign * 2 * TREND * (t - 0.5), rtol=0, atol=1e-12)
    # Damping and frequency change only the oscillation: at t = 0 the envelope is 1, so damping
    # leaves the first step as it was.
    damp = wave_values(counterfactual(a, "Damped", seed=2)[1], seed=2) - v
    assert np.abs(damp[:, 0]).max() < 1e-12 and np.abs(damp).max() > 0.05


def test_rows_draw_the_same_signals_as_the_whole_sequence():
    x, a = generate_waves(200, seed=9)
    rows = np.array([150, 3, 77])
    assert np.array_equal(render_waves(a[rows], seed=9, rows=rows), x[rows])
    twin = counterfactual(a[rows], "Spike", seed=9, rows=rows)[0]
    assert np.array_equal(twin, counterfactual(a, "Spike", seed=9)[0][rows])


def test_bad_arguments_are_refused_naming_the_field():
    with pytest.raises(ValueError, match="attributes"):
        render_waves(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="attribute"):
        counterfactual(np.zeros((3, len(ATTRIBUTE_NAMES))), "Smiling")
    with pytest.raises(ValueError, match="n_samples"):
        generate_waves(0)


def test_waves_load_through_the_registry_with_attributes_and_a_split():
    data = load_dataset("waves", options=DataOptions(limit=500, seed=4))
    x, a = generate_waves(500, seed=4)
    assert data.name == "waves" and data.image_shape == (1, N_STEPS, 1)
    assert np.array_equal(data.pixels, x) and np.array_equal(data.attributes, a)
    assert data.attribute_names == ATTRIBUTE_NAMES
    assert data.test_mask.sum() == 50 and "signals" in data.description


def test_load_waves_writes_the_cache_once_and_then_reads_it(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path))
    first = load_waves(None, DataOptions(limit=40, seed=1))
    assert [p.name for p in tmp_path.iterdir()] == [f"waves-40-128-1-v{waves.VERSION}.npz"]

    def fail(*args, **kwargs):
        raise AssertionError("generate_waves called although the cache exists")

    monkeypatch.setattr(waves, "generate_waves", fail)
    second = load_waves(None, DataOptions(limit=40, seed=1))
    assert np.array_equal(first.pixels, second.pixels)
    assert np.array_equal(first.attributes, second.attributes)


def test_the_cli_trains_an_mlp_pair_on_waves_for_one_epoch(tmp_path):
    fitted = subprocess.run(
        [sys.executable, "-m", "training", "fit", "--dataset", "waves", "--epochs", "1"]
        + ["--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert fitted.returncode == 0, fitted.stderr
    assert "waves: 10000 images (1, 128, 1)" in fitted.stdout
    assert (tmp_path / "ae.safetensors").is_file() and (tmp_path / "vae.safetensors").is_file()
