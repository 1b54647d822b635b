"""Generated signals with known binary attributes: the sequence dataset with ground truth.

Each signal is 128 steps of

    x(t) = BASE + slope (t - 1/2) + amplitude envelope(t) sin(2 pi f t + phase) + spike + noise

for t = k / 128, stored as a grey image of shape (1, 128, 1): H is time, so a recurrent coder reads
one value per step and every image tool (the MLP, PCA, the display) takes it as it is. Four
attributes are independent coin flips (High_Frequency, Damped, Spike, Rising); phase, amplitude,
the frequency within its band, the damping rate, where the spike falls, its height and the noise
are nuisance. The nuisance of signal i depends only on the seed and i, never on the attributes,
so render_waves with one attribute column flipped (counterfactual) redraws the same signals with
only that attribute changed, as the faces' twins do.

Sizes are chosen so each attribute is plain in the values and the sum stays inside [0, 1]: the
trend (0.35 end to end) outweighs the best linear fit of a 1.5-cycle sine of amplitude 0.12
(about 0.15); the spike (a raised cosine 0.22..0.28 high and 5 steps wide, wide enough for a
model to draw, narrow enough to stand out of a sine of 5..8 cycles) stands above a 9-step
running median by 0.08 or more where nothing else does, for all but about 1 signal in 500; the
bands (1.5..2.5 and 5..8 cycles) stay apart after a damped envelope widens them.
tests/test_waves.py measures each attribute in the values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.data.dataset import (
    DataOptions,
    Dataset,
    LoadProgress,
    cache_dir,
    generated_arrays,
    locate_generated,
    seeded_test_mask,
)

ATTRIBUTE_NAMES = ("High_Frequency", "Damped", "Spike", "Rising")
VERSION = 3  # bump whenever the drawing changes: the cache file name carries it
DEFAULT_N_WAVES = 10_000
N_STEPS = 128
BASE = 0.42  # the level at the middle of the window
TREND = 0.35  # rise (or fall) from the first step to the last
SPIKE_HALF_WIDTH = 3  # steps from the spike's peak to its foot
# Where a spike peaks, as a fraction of the window: at the middle, give or take 2 steps, so that
# one direction of a code adds it ("add a spike": a vector cannot say where). Measured on MLP
# VAEs (8-D, 2026-12-08): over the middle half, no edit drew a spike; over 45-55%, 3% did;
# here 83%.
SPIKE_SPAN = (0.48, 0.52)
SPIKE_SEEN = 0.08  # a rise above the running median that only a spike reaches (has_spike)
LOW_BAND, HIGH_BAND = (1.5, 2.5), (5.0, 8.0)  # cycles per window

# One uniform draw per name and signal; each is mapped to its range in _nuisance.
_NUISANCE_NAMES = (
    "frequency", "phase", "amplitude", "damping", "spike_at", "spike_height", "noise",
)  # fmt: skip


def _lerp(lo: float, hi: float, u: np.ndarray) -> np.ndarray:
    return lo + u * (hi - lo)


def _nuisance(u: np.ndarray, attributes: np.ndarray) -> dict[str, np.ndarray]:
    """Per-signal parameters (N,) from uniforms u (N, len(_NUISANCE_NAMES)) and attributes (N, A).

    The uniforms are the nuisance; an attribute only picks the range a uniform is mapped into
    (the low or the high band), so flipping it keeps the signal's place within the range.
    """
    r = dict(zip(_NUISANCE_NAMES, u.T, strict=True))
    high, damped, spike, rising = attributes.T.astype(bool)
    return {
        "frequency": np.where(
            high, _lerp(*HIGH_BAND, r["frequency"]), _lerp(*LOW_BAND, r["frequency"])
        ),
        "phase": _lerp(0, 2 * np.pi, r["phase"]),
        "amplitude": _lerp(0.08, 0.12, r["amplitude"]),
        "decay": np.where(damped, _lerp(3.5, 5.0, r["damping"]), 0.0),  # 1/e every 1/decay
        "spike_at": np.floor(_lerp(*SPIKE_SPAN, r["spike_at"]) * N_STEPS).astype(np.int64),
        "spike_height": np.where(spike, _lerp(0.22, 0.28, r["spike_height"]), 0.0),
        "noise": _lerp(0.005, 0.015, r["noise"]),
        "slope": np.where(rising, TREND, -TREND),
    }


def _streams(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(attribute uniforms (n, A), nuisance uniforms (n, K), noise (n, N_STEPS)) for seed, each
    from its own stream and row by row: the first k rows are the same whatever n is."""
    attr, nuisance, noise = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
    )
    return (
        attr.random((n, len(ATTRIBUTE_NAMES))),
        nuisance.random((n, len(_NUISANCE_NAMES))),
        noise.standard_normal((n, N_STEPS)),
    )


def wave_values(
    attributes: np.ndarray, seed: int = 0, rows: np.ndarray | None = None
) -> np.ndarray:
    """float64 (N, N_STEPS) signals in [0, 1] showing attributes (N, A) in {0, 1} (ATTRIBUTE_NAMES
    order), before quantization to bytes.

    rows: which signals of the seed's sequence these are (default 0..N-1): signal i's nuisance and
    noise depend only on seed and rows[i], so one attribute flipped redraws the same signal.
    """
    attributes = np.asarray(attributes)
    if attributes.ndim != 2 or attributes.shape[1] != len(ATTRIBUTE_NAMES):
        raise ValueError(f"attributes must be (N, {len(ATTRIBUTE_NAMES)}), got {attributes.shape}")
    rows = np.arange(len(attributes)) if rows is None else np.asarray(rows, np.int64)
    if rows.shape != (len(attributes),) or (len(rows) and rows.min() < 0):
        raise ValueError(f"rows must be ({len(attributes)},) indices >= 0")
    _, u, noise = _streams(seed, int(rows.max()) + 1 if len(rows) else 0)
    p = {k: v[:, None] for k, v in _nuisance(u[rows], attributes != 0).items()}
    t = np.arange(N_STEPS) / N_STEPS  # (T,)
    x = BASE + p["slope"] * (t - 0.5)
    x = x + p["amplitude"] * np.exp(-p["decay"] * t) * np.sin(
        2 * np.pi * p["frequency"] * t + p["phase"]
    )
    x = x + p["noise"] * noise[rows]
    x = x + p["spike_height"] * spike_shape(np.arange(N_STEPS) - p["spike_at"])
    return x.clip(0, 1)


def spike_shape(offset: np.ndarray) -> np.ndarray:
    """The spike's profile at offset steps from its peak: a raised cosine, 1 at the peak and 0
    from SPIKE_HALF_WIDTH steps away on (so a twin differs only within the spike's span)."""
    inside = np.abs(offset) < SPIKE_HALF_WIDTH
    return np.where(inside, 0.5 + 0.5 * np.cos(np.pi * offset / SPIKE_HALF_WIDTH), 0.0)


def has_spike(signals: np.ndarray) -> np.ndarray:
    """(N,) bool: whether each signal (N, 1, N_STEPS, 1) or (N, N_STEPS), bytes or values in
    [0, 1], rises SPIKE_SEEN or more above its 9-step running median somewhere (a sine of the
    waves' bands does not; tests/test_waves.py measures how often the two are told apart)."""
    from scipy.ndimage import median_filter  # only the measures need it

    x = np.asarray(signals, np.float64).reshape(len(signals), -1)
    x = x / 255 if np.asarray(signals).dtype == np.uint8 else x
    return (x - median_filter(x, size=(1, 9), mode="nearest")).max(1) >= SPIKE_SEEN


def render_waves(
    attributes: np.ndarray, seed: int = 0, rows: np.ndarray | None = None
) -> np.ndarray:
    """uint8 (N, 1, N_STEPS, 1) signals showing attributes (N, A): wave_values as bytes."""
    x = wave_values(attributes, seed, rows)
    return np.round(x * 255).astype(np.uint8)[:, None, :, None]


def generate_waves(n_samples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(signals, attributes): uint8 (N, 1, N_STEPS, 1) and uint8 (N, A) independent 0/1 flips."""
    if not isinstance(n_samples, int | np.integer) or n_samples < 1:
        raise ValueError(f"n_samples must be an integer >= 1, got {n_samples!r}")
    u, _, _ = _streams(seed, n_samples)
    attributes = (u < 0.5).astype(np.uint8)
    return render_waves(attributes, seed), attributes


def counterfactual(
    attributes: np.ndarray, attribute: str, seed: int = 0, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(signals, attributes) of the same signals with attribute flipped in every row: every other
    attribute, the nuisance and the noise identical (rows as in wave_values)."""
    if attribute not in ATTRIBUTE_NAMES:
        raise ValueError(
            f"attribute must be one of {', '.join(ATTRIBUTE_NAMES)}, got {attribute!r}"
        )
    flipped = np.array(attributes, np.uint8, copy=True)
    column = ATTRIBUTE_NAMES.index(attribute)
    flipped[:, column] = 1 - flipped[:, column]
    return render_waves(flipped, seed, rows), flipped


def _cache_path(n_samples: int, seed: int) -> Path:
    return cache_dir() / f"waves-{n_samples}-{N_STEPS}-{seed}-v{VERSION}.npz"


def locate_waves(data_dir: Path | None) -> str:
    """Where the waves come from (data_dir is ignored: they are generated, not found)."""
    return locate_generated(
        _cache_path(DEFAULT_N_WAVES, 0), "generated on first use (well under a second)"
    )


def load_waves(
    data_dir: Path | None, options: DataOptions, progress: LoadProgress | None = None
) -> Dataset:
    """The generated signals for options (limit, seed), from the cache or generated anew;
    options.image_size does not apply (a signal has N_STEPS steps)."""
    n = options.limit or DEFAULT_N_WAVES
    path = _cache_path(n, options.seed)
    shapes = {"signals": (n, 1, N_STEPS, 1), "attributes": (n, len(ATTRIBUTE_NAMES))}
    arrays = generated_arrays(path, shapes, lambda: generate_waves(n, options.seed))
    return Dataset(
        name="waves",
        pixels=arrays["signals"],
        test_mask=seeded_test_mask(n),
        description=f"{n:,} generated signals of {N_STEPS} steps (shown as lines), with "
        f"{len(ATTRIBUTE_NAMES)} independent known attributes: high frequency, damped, a spike, "
        "a rising trend.",
        attributes=arrays["attributes"],
        attribute_names=ATTRIBUTE_NAMES,
        source=f"generated (cached in {path})",
    )
