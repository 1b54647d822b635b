"""A lineup of VAEs, one per coder architecture (MLP, conv, GRU), for the app's "MLP vs conv vs
GRU" instrument: what the architecture changes, and nothing else. Every VAE has the dataset's
default latent size, likelihood and KL weight (those of its default pair), and sees the same
train split in the same batches (one seed, one batch size, one number of steps); each keeps
its own architecture's defaults for the rest (hidden sizes, channels, learning rate).

A VAE each, not an AE and a VAE: the contrast the class should see is between coders, and a
VAE's prior samples show a second thing an AE's would not (whether the coder learnt a decoder
that makes sense away from the training codes), at half the training time.

The budget is bounded, like a preview's: LINEUP_STEPS optimizer steps per VAE under a onecycle
schedule, which anneals each to a settled point at the same step (docs/training.md). An
architecture that cannot take the images (conv on waves' 128x1 signals) is skipped, with why.

    out_dir/vae-<arch>.safetensors   one checkpoint per architecture (its model_config.arch)
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from training.checkpoints import Checkpoint, load_checkpoint
from training.config import ARCHITECTURES, Recipe, TrainConfig
from training.data import Dataset
from training.recipe import TrainedModel, recipe
from training.variants import SetProgress, Variant, train_variants

LINEUP_ARCHS = ("mlp", "conv", "gru")
# Optimizer steps per VAE, the presets' TARGET_STEPS. Measured with one torch thread (the app's)
# on 2 cores shared with other work (2026-12-08): digits' three VAEs in 34-66 s, Fashion-MNIST's
# (1,404 steps) in 256 s; the GRU takes most, reading the rows one after another.
LINEUP_STEPS = 1200
LINEUP_BATCH = 128  # the presets' batch for conv and recurrent coders and for small data
PATTERN = "vae-*.safetensors"


def lineup_path(out_dir: str | Path, arch: str) -> Path:
    """out_dir/vae-<arch>.safetensors."""
    return Path(out_dir) / f"vae-{arch}.safetensors"


def check_archs(archs: Sequence[str]) -> tuple[str, ...]:
    """The architectures in the order given; a ValueError names the problem."""
    archs = tuple(archs)
    if not archs:
        raise ValueError("archs: give at least one")
    if len(set(archs)) != len(archs):
        raise ValueError(f"archs: each at most once, got {archs}")
    unknown = [a for a in archs if a not in ARCHITECTURES]
    if unknown:
        raise ValueError(f"archs: each one of {ARCHITECTURES}, got {unknown}")
    return archs


def steps_per_epoch(n_train: int, batch_size: int = LINEUP_BATCH) -> int:
    """Optimizer steps in one epoch over n_train images (fit's batches: whole ones, >= 1)."""
    return max(1, n_train // batch_size)


def lineup_epochs(n_train: int, batch_size: int = LINEUP_BATCH, steps: int = LINEUP_STEPS) -> int:
    """Epochs that give at least `steps` optimizer steps over n_train images (at least 1)."""
    return max(1, math.ceil(steps / steps_per_epoch(n_train, batch_size)))


@dataclass(frozen=True)
class Plan:
    """What a lineup trains: recipes by architecture, in order, and the architectures that
    cannot take the dataset's images, each with the sentence that says why."""

    recipes: dict[str, Recipe]
    skipped: dict[str, str]


def plan_lineup(
    dataset: Dataset, archs: Sequence[str] = LINEUP_ARCHS, epochs: int | None = None, seed: int = 0
) -> Plan:
    """The lineup's recipes for dataset: the shared settings (latent size, likelihood, beta,
    binarizing from the dataset's default pair; batch, epochs, seed, schedule) and each
    architecture's own defaults. A ValueError names a bad argument; an architecture whose
    model cannot take the images is skipped."""
    archs = check_archs(archs)
    base = recipe(dataset, seed=seed)
    shared = {
        "batch_size": LINEUP_BATCH,
        "epochs": lineup_epochs(len(dataset.train_indices)) if epochs is None else epochs,
        "beta": base.train.beta,
        "binarize": base.train.binarize,
        "seed": seed,
        "schedule": "onecycle",
    }
    TrainConfig(**shared)  # a bad epochs or seed is the caller's, not an architecture's
    recipes, skipped = {}, {}
    for arch in archs:
        try:
            recipes[arch] = recipe(
                dataset,
                arch=arch,
                latent_dim=base.model.latent_dim,
                likelihood=base.model.likelihood,
                **shared,
            )
        except ValueError as e:  # the model's shape check: e.g. conv on 128x1 signals
            skipped[arch] = str(e)
    return Plan(recipes, skipped)


def train_lineup(
    dataset: Dataset,
    out_dir: str | Path,
    archs: Sequence[str] = LINEUP_ARCHS,
    epochs: int | None = None,
    seed: int = 0,
    on_progress: SetProgress | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, TrainedModel]:
    """Fit one VAE per architecture of plan_lineup, one after the other, evaluate each and save
    it atomically at lineup_path(out_dir, arch) (train_variants). epochs: None gives
    LINEUP_STEPS steps. A ValueError when no architecture can take the images."""
    plan = plan_lineup(dataset, archs, epochs, seed)
    if not plan.recipes:
        reasons = "; ".join(f"{a}: {why}" for a, why in plan.skipped.items())
        raise ValueError(f"no architecture takes {dataset.name}'s images ({reasons})")
    variants = {
        arch: Variant(r.model, r.train, lineup_path(out_dir, arch))
        for arch, r in plan.recipes.items()
    }
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return train_variants(dataset, variants, on_progress, cancel)


def load_lineup(folder: str | Path) -> dict[str, Checkpoint]:
    """The lineup's VAEs in folder by architecture (from each file's model_config), in the
    order of LINEUP_ARCHS, then any other."""
    coders = {}
    for path in Path(folder).glob(PATTERN):
        ckpt = load_checkpoint(path)
        if ckpt.config.kind == "vae" and path == lineup_path(folder, ckpt.config.arch):
            coders[ckpt.config.arch] = ckpt
    order = [*LINEUP_ARCHS, *ARCHITECTURES]
    return dict(sorted(coders.items(), key=lambda item: order.index(item[0])))
