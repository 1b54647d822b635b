"""Sensible default model shapes for a dataset, shared by the CLI and the app."""

from __future__ import annotations

import math

from training.config import RECURRENT_ARCHS, ModelConfig, TrainConfig

# Measured on 64x64 faces and CelebA: twice the images/s of (32, 64, 128, 256), and a lower
# test error for the same training time.
CONV_CHANNELS = (16, 32, 64, 128)
# The residual coders' MLP (docs/training.md): on 64x64 faces 256 hidden units reach
# 0.68x PCA's test error in 400 steps (14 s), 1024 reach 0.58x in 35 s; 128 reach 0.68x in
# 700 steps (measured then; the default is RESIDUAL_STEPS) and keep a 64x64 pair's decoders
# under the browser's 4 M weights.
RESIDUAL_HIDDEN = (128,)
RESIDUAL_STEPS = 600  # onecycle steps of the residual models: a usable pair within a minute
# The recurrent coders' hidden state (gru, lstm; docs/training.md, "Recurrent coders"): on
# MNIST-sized images a GRU of 128 units trains and decodes about 3x as fast as one of 256
# (2 cores, 2026-12-07).
RECURRENT_HIDDEN = (128,)
# Steps of a signal (one channel, one column: waves) a recurrent coder reads and writes per step:
# 16, so 128 steps run as 8 frames of 16 values. Measured on the waves' 8,000 training signals
# (GRU VAE, 8-D, 100 epochs at lr 5e-3, 2026-12-08): one value a step took 39 s an epoch (64
# units, a shared machine; not trained further); frames of 8, 1.7 s an epoch and 0.27x PCA's
# test error (128 units, one thread, with the spike anywhere in 45-55% of the window); frames
# of 16, 1.4 s and 0.13x, its decoder drawing the spike of 99% of held-out waves that have one
# (a decoder fed the same code at every step has fewer steps to count to the middle).
SIGNAL_FRAME = 16
# A signal's code: the waves have four attributes and as many nuisances (phase, amplitude,
# frequency within its band, where the spike falls); their map shows a PCA view, as the faces'.
# Measured on the waves (GRU VAEs, 100 epochs): 8-D reaches 0.27x PCA's test error at 8
# components and draws 76% of the twins' spikes; 4-D draws none (2026-12-08).
SIGNAL_LATENT_DIM = 8
MIN_CONV_FEATURE_SIZE = 4  # stop halving before feature maps get smaller than 4x4
TARGET_STEPS = 1200  # optimizer steps that bring the default models close to convergence
# Small grey images are drawn as a 2-D map of the codes themselves; faces need more room for
# their attributes to get directions of their own (the smile vector), so their maps show a
# PCA view of 32-D codes. Measured on faces (a linear probe for Smiling on the VAE's codes
# after 9 epochs, as three fits of 3): 77% at 16-D, 86% at 32-D.
LARGE_IMAGE_LATENT_DIM = 32
# The full recipe of the conv coders (docs/training.md): about this many onecycle steps
# (faces: 40 epochs of 125 steps, 11-13 min for the pair on 2 cores; CelebA's 10,000-image
# subset: 65 epochs, within 10 minutes). Fewer steps leave the VAE's prior samples grey.
CONV_STEPS = 4000
# The conv VAE's KL weight. Its calibrated Gaussian decoder scores 12,288 pixel values per face
# in nats, a reconstruction term that dwarfs a 32-D KL at beta 1: its codes then drift from the
# prior, and prior samples look like the AE's. Measured on faces (AE/VAE Frechet of prior
# samples; smile-edit gain): beta 1: 1.76, 0.32; 4: 2.72, 0.38; 16: 5.02, 0.49 (NOTES.md).
CONV_BETA = 16.0
# The best recipe measured for a dataset by name, for whatever the user leaves unset; the
# generic rules below cover every other dataset. MNIST: the published binarized-MNIST protocol
# and architecture (784-512-512-2, batch 128, Adam 1e-3). faces: the shipped pair's recipe.
DATASET_RECIPES: dict[str, dict] = {
    "mnist": {
        "hidden": (512, 512),
        "batch_size": 128,
        "lr": 1e-3,
        "binarize": True,
        "epochs": 40,
        "schedule": "onecycle",
    },
    "faces": {"epochs": 40},
    # waves: GRUs need about 6,000 steps to draw a spike; at the generic 1,200 their test
    # error is 1.9x PCA's (2026-12-08, docs/training.md "Recurrent coders")
    "waves": {"epochs": 100, "lr": 5e-3, "schedule": "onecycle"},
}
STAGES = ("full", "preview")  # the best pair; a quick one to look at while the full one trains


def default_arch(image_shape: tuple[int, int, int], stage: str = "full") -> str:
    """A GRU for signals (waves). An MLP for small grey images (digits, MNIST). For larger or
    colour ones, conv coders in the full pair (what shows the lectures' contrasts), and for a
    preview the residual coders (PCA plus an MLP), which beat PCA within a minute but decode
    the prior like PCA does, AE and VAE alike (docs/training.md, "Default models")."""
    if is_signal(image_shape):
        return "gru"
    if small_grey(image_shape):
        return "mlp"
    return "conv" if stage == "full" else "residual"


def small_grey(image_shape: tuple[int, int, int]) -> bool:
    """Grey images up to 28x28: the digits and MNISTs."""
    c, h, w = image_shape
    return c == 1 and h * w <= 28 * 28


def is_signal(shape: tuple[int, ...]) -> bool:
    """Whether a shape (C, H, W) is a signal such as the waves: one channel, one column, H >= 2
    time steps (the app draws it as a line, and recurrent coders read it in frames)."""
    return len(shape) == 3 and shape[0] == 1 and shape[2] == 1 and shape[1] >= 2


def default_rows_per_step(image_shape: tuple[int, int, int], arch: str) -> int:
    """SIGNAL_FRAME steps of a signal per recurrent step (where they divide it), else 1 row."""
    frame = is_signal(image_shape) and image_shape[1] % SIGNAL_FRAME == 0
    return SIGNAL_FRAME if arch in RECURRENT_ARCHS and frame else 1


def default_latent_dim(arch: str, image_shape: tuple[int, int, int] = (1, 28, 28)) -> int:
    """SIGNAL_LATENT_DIM for signals; 2-D for the MLP, and for the recurrent coders on small
    grey images; else 32-D."""
    if is_signal(image_shape):
        return SIGNAL_LATENT_DIM
    small = arch == "mlp" or (arch in RECURRENT_ARCHS and small_grey(image_shape))
    return 2 if small else LARGE_IMAGE_LATENT_DIM


def default_hidden(image_shape: tuple[int, int, int], arch: str) -> tuple[int, ...]:
    if arch == "residual":
        return RESIDUAL_HIDDEN
    if arch in RECURRENT_ARCHS:
        return RECURRENT_HIDDEN
    c, h, w = image_shape
    return (512,) if c * h * w >= 28 * 28 else (256,)


def default_likelihood(arch: str, image_shape: tuple[int, int, int] = (1, 28, 28)) -> str:
    """Bernoulli for the small grey images (the standard for MNIST: the MLP's, and the
    recurrent coders' there); a calibrated Gaussian for the rest (signals too), whose VAE is
    otherwise blurred by a fixed variance (training/losses.py)."""
    small = not is_signal(image_shape) and (
        arch == "mlp" or (arch in RECURRENT_ARCHS and small_grey(image_shape))
    )
    return "bernoulli" if small else "calibrated"


def default_channels(image_shape: tuple[int, int, int]) -> tuple[int, ...]:
    """As many stride-2 layers as keep the last feature map at least 4 px on a side (>= 1)."""
    side = min(image_shape[1:])
    n_layers = 1
    while n_layers < len(CONV_CHANNELS) and side >> (n_layers + 1) >= MIN_CONV_FEATURE_SIZE:
        n_layers += 1
    return CONV_CHANNELS[:n_layers]


def default_model_config(
    image_shape: tuple[int, int, int],
    kind: str,
    arch: str | None = None,
    latent_dim: int | None = None,
    hidden: tuple[int, ...] | None = None,
    likelihood: str | None = None,
) -> ModelConfig:
    """A model config for images of image_shape; None arguments take the defaults above."""
    arch = arch or default_arch(image_shape)
    return ModelConfig(
        kind=kind,
        arch=arch,
        image_shape=tuple(image_shape),
        latent_dim=latent_dim or default_latent_dim(arch, image_shape),
        hidden=hidden or default_hidden(image_shape, arch),
        channels=default_channels(image_shape),
        likelihood=likelihood or default_likelihood(arch, image_shape),
        rows_per_step=default_rows_per_step(image_shape, arch),
    )


def default_train_config(
    n_samples: int, arch: str = "mlp", stage: str = "full", **overrides
) -> TrainConfig:
    """A training config that brings the default models close to convergence; overrides win.

    Measured on digits, MNIST, faces and CelebA: an MLP on 10,000+ images runs fastest with
    batch 512 (big matmuls keep a CPU busy) at lr 2e-3; small data converges at batch 128 and
    lr 3e-3 in 100 epochs (1e-3 needs 4x as many); conv models gain nothing from big batches
    on a CPU, so they take more, smaller steps (batch 128, lr 2e-3). Epochs give about
    TARGET_STEPS steps, 5 to 200. The residual models start at PCA and need fewer:
    RESIDUAL_STEPS under a onecycle schedule; a full conv pair needs more: CONV_STEPS under
    onecycle, its VAE at CONV_BETA. An override of None keeps the default.
    """
    if stage not in STAGES:
        raise ValueError(f"stage: must be one of {STAGES}, got {stage!r}")
    overrides = {k: v for k, v in overrides.items() if v is not None}  # None: "not given"
    big_mlp = arch == "mlp" and n_samples >= 10_000
    full_conv = arch == "conv" and stage == "full"
    batch_size = overrides.get("batch_size") or (512 if big_mlp else 128)
    steps_per_epoch = max(1, n_samples // batch_size)
    target, fewest = {"residual": (RESIDUAL_STEPS, 2)}.get(arch, (TARGET_STEPS, 5))
    target = CONV_STEPS if full_conv else target
    defaults = {
        "epochs": min(200, max(fewest, math.ceil(target / steps_per_epoch))),
        "batch_size": batch_size,
        "lr": 3e-3 if arch == "mlp" and not big_mlp else 2e-3,
        "schedule": "onecycle" if arch == "residual" or full_conv else "constant",
        "beta": CONV_BETA if arch == "conv" else 1.0,
    }
    return TrainConfig(**{**defaults, **overrides})
