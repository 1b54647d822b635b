"""Frozen, validated configs for models and training: plain values, built by the CLI or the app."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

MODEL_KINDS = ("ae", "vae")
RECURRENT_ARCHS = ("gru", "lstm")  # training/recurrent.py
ARCHITECTURES = ("mlp", "conv", "residual", *RECURRENT_ARCHS)
LIKELIHOODS = ("bernoulli", "gaussian", "calibrated")
PRECISIONS = ("auto", "fp32", "bf16")
SCHEDULES = ("constant", "onecycle")


def check(condition: bool, field: str, message: str) -> None:
    """A ValueError "field: message" unless condition holds (the app's own limits use it too)."""
    if not condition:
        raise ValueError(f"{field}: {message}")


@dataclass(frozen=True)
class ModelConfig:
    """What a model is: enough to rebuild it from a checkpoint.

    image_shape: (C, H, W) of the input images
    arch:        "mlp", "conv", "residual" (PCA of the pixel logits plus an MLP correction:
                 it starts as PCA and learns what PCA misses, training/models.py), or "gru"
                 or "lstm" (the image read and written one row per step, training/recurrent.py)
    hidden:      MLP hidden sizes, encoder order (the decoder mirrors them); also the
                 residual coders' MLPs; for "gru" and "lstm" exactly one size, the hidden
                 state of the encoder's and the decoder's recurrent layer
    channels:    conv channels per stride-2 layer, encoder order (the decoder mirrors them)
    rows_per_step: "gru" and "lstm": image rows read (and written) per recurrent step; a
                 divisor of H. 1 for images (a row per step); a signal (C = W = 1) in frames
                 of several steps, as audio models do, so the recurrence runs H / rows_per_step
                 steps (training/presets.py)
    likelihood:  "bernoulli" (BCE, for images in [0, 1] read as pixel probabilities)
                 or "gaussian" (squared error, fixed variance)
                 or "calibrated" (Gaussian with the variance set to the batch's error)
    """

    kind: str = "vae"
    arch: str = "mlp"
    image_shape: tuple[int, int, int] = (1, 8, 8)
    latent_dim: int = 2
    hidden: tuple[int, ...] = (512,)
    channels: tuple[int, ...] = (16, 32, 64, 128)
    likelihood: str = "bernoulli"
    rows_per_step: int = 1

    def __post_init__(self) -> None:
        check(self.kind in MODEL_KINDS, "kind", f"must be one of {MODEL_KINDS}, got {self.kind!r}")
        check(
            self.arch in ARCHITECTURES, "arch", f"must be one of {ARCHITECTURES}, got {self.arch!r}"
        )
        check(
            self.likelihood in LIKELIHOODS,
            "likelihood",
            f"must be one of {LIKELIHOODS}, got {self.likelihood!r}",
        )
        check(
            len(self.image_shape) == 3 and all(int(s) >= 1 for s in self.image_shape),
            "image_shape",
            f"must be (C, H, W) of positive ints, got {self.image_shape}",
        )
        check(
            1 <= self.latent_dim <= 4096,
            "latent_dim",
            f"must be in [1, 4096], got {self.latent_dim}",
        )
        check(
            all(1 <= h <= 65536 for h in self.hidden),
            "hidden",
            f"sizes must be >= 1: {self.hidden}",
        )
        check(
            len(self.channels) >= 1 and all(1 <= c <= 4096 for c in self.channels),
            "channels",
            f"must be one or more sizes >= 1: {self.channels}",
        )
        if self.arch in RECURRENT_ARCHS:
            check(
                len(self.hidden) == 1,
                "hidden",
                f"a {self.arch} coder has one recurrent layer: give one size, got {self.hidden}",
            )
        height = self.image_shape[1]
        check(
            isinstance(self.rows_per_step, int)
            and 1 <= self.rows_per_step <= height
            and height % self.rows_per_step == 0
            and (self.rows_per_step == 1 or self.arch in RECURRENT_ARCHS),
            "rows_per_step",
            f"must divide the image's {height} rows (and be 1 unless the coders are recurrent), "
            f"got {self.rows_per_step!r}",
        )
        if self.arch == "conv":  # (the residual coders take any image size)
            check(
                min(self.image_shape[1:]) >= 2 ** len(self.channels),
                "channels",
                f"{len(self.channels)} stride-2 layers need images of at least "
                f"{2 ** len(self.channels)} px on each side, got {self.image_shape[1]} x "
                f"{self.image_shape[2]}",
            )


@dataclass(frozen=True)
class TrainConfig:
    """How a model is fitted. AE and VAE trained "side by side" share one TrainConfig.

    beta:        weight on the VAE's KL term (1 = the ELBO; 0 = reconstruction only)
    noise_std:   denoising AE: Gaussian noise added to inputs, the clean image is the target
    sparsity:    sparse AE: weight of the L1 penalty on the code
    binarize:    dynamically binarize each batch (x ~ Bernoulli(pixel)), the standard protocol
                 for likelihoods on MNIST
    precision:   "auto" uses bf16 autocast only on CPUs with native bf16, else fp32
    compile:     torch.compile the model (seconds of warm-up: never for interactive runs)
    schedule:    the learning rate: "constant", or "onecycle" (warm-up, then cosine decay)
    """

    epochs: int = 10
    batch_size: int = 512
    lr: float = 1e-3
    beta: float = 1.0
    noise_std: float = 0.0
    sparsity: float = 0.0
    binarize: bool = False
    seed: int = 0
    precision: str = "auto"
    compile: bool = False
    device: str = "auto"
    schedule: str = "constant"

    def __post_init__(self) -> None:
        check(1 <= self.epochs <= 100_000, "epochs", f"must be in [1, 100000], got {self.epochs}")
        check(1 <= self.batch_size <= 1 << 20, "batch_size", f"must be >= 1, got {self.batch_size}")
        check(0 < self.lr <= 10, "lr", f"must be in (0, 10], got {self.lr}")
        check(0 <= self.beta <= 1000, "beta", f"must be in [0, 1000], got {self.beta}")
        check(0 <= self.noise_std <= 10, "noise_std", f"must be in [0, 10], got {self.noise_std}")
        check(0 <= self.sparsity <= 1000, "sparsity", f"must be in [0, 1000], got {self.sparsity}")
        check(self.seed >= 0, "seed", f"must be >= 0, got {self.seed}")
        check(self.precision in PRECISIONS, "precision", f"must be one of {PRECISIONS}")
        check(self.device in ("auto", "cpu", "cuda"), "device", "must be auto, cpu or cuda")
        check(self.schedule in SCHEDULES, "schedule", f"must be one of {SCHEDULES}")


@dataclass(frozen=True)
class Recipe:
    """Everything a pair is made of (training.recipe.recipe fills it in for a dataset): the
    model, with kind "vae" (the pair's AE differs in its kind alone), and how it is fitted."""

    model: ModelConfig
    train: TrainConfig


def config_to_dict(config: ModelConfig | TrainConfig) -> dict:
    """Plain JSON-able dict of a config."""
    return asdict(config)


def config_from_dict(cls: type, data: dict):
    """Rebuild a config from its dict; unknown keys are refused, lists become tuples."""
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown fields {sorted(unknown)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**values)
