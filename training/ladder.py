"""A ladder of VAEs over beta, the weight of the KL term (Higgins et al., "beta-VAE", 2017): the
same data, seed, architecture and batches for every rung, so that the only difference between
two rungs is beta. beta = 0 is an autoencoder with noise; beta = 1 is the ELBO; larger betas
trade reconstruction for a code closer to the prior, until latent dimensions collapse.

    out_dir/vae-beta-<beta>.safetensors   one checkpoint per rung (its train_config.beta)
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from training.checkpoints import Checkpoint, load_checkpoint
from training.config import ModelConfig, TrainConfig
from training.data import Dataset
from training.presets import default_model_config
from training.recipe import TrainedModel
from training.variants import SetProgress, Variant, train_variants

DEFAULT_BETAS = (0.0, 0.1, 1.0, 4.0)
PATTERN = "vae-beta-*.safetensors"


def ladder_path(out_dir: str | Path, beta: float) -> Path:
    """out_dir/vae-beta-<beta>.safetensors, beta written shortest (0, 0.1, 1, 4)."""
    return Path(out_dir) / f"vae-beta-{beta:g}.safetensors"


def check_betas(betas: Sequence[float]) -> tuple[float, ...]:
    """The betas sorted; a ValueError names the problem (none, repeated, out of range)."""
    betas = tuple(sorted(float(b) for b in betas))
    if not betas:
        raise ValueError("betas: give at least one")
    if len(set(betas)) != len(betas):
        raise ValueError(f"betas: each at most once, got {betas}")
    for beta in betas:
        TrainConfig(beta=beta)  # its range check names the field
    return betas


def train_ladder(
    dataset: Dataset,
    betas: Sequence[float],
    config: TrainConfig,
    out_dir: str | Path,
    model_config: ModelConfig | None = None,
    on_progress: SetProgress | None = None,
    cancel: threading.Event | None = None,
) -> dict[float, TrainedModel]:
    """Fit one VAE per beta on the train split (config with its beta replaced), one after the
    other, evaluate each and save it atomically at ladder_path(out_dir, beta) (train_variants).
    model_config: the VAEs' model, as a pair's (None: the presets' default for the images). A
    cancel stops the ladder: the rung in training and those after it are not saved."""
    betas = check_betas(betas)
    vae = replace(model_config or default_model_config(dataset.image_shape, "vae"), kind="vae")
    variants = {
        beta: Variant(vae, replace(config, beta=beta), ladder_path(out_dir, beta)) for beta in betas
    }
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return train_variants(dataset, variants, on_progress, cancel)


def load_ladder(folder: str | Path) -> dict[float, Checkpoint]:
    """The ladder's checkpoints in folder by beta (from each file's train_config), in order."""
    rungs = {}
    for path in Path(folder).glob(PATTERN):
        ckpt = load_checkpoint(path)
        beta = ckpt.train_config.beta if ckpt.train_config else None
        if beta is None or ckpt.config.kind != "vae":
            continue  # not a rung of a ladder
        rungs[beta] = ckpt
    return dict(sorted(rungs.items()))


def has_ladder(folder: str | Path, betas: Sequence[float] = DEFAULT_BETAS) -> bool:
    """Whether folder holds a checkpoint for each of betas."""
    return all(ladder_path(folder, beta).is_file() for beta in betas)
