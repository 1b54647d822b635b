"""Concept-vector quality: does moving a code along the smile vector make the decoded face smile,
and nothing else? Judged by a pixel CNN trained on the images (never on the codes).

1. faces (procedural, independent attributes): default conv AE and VAE; held-out non-smiling
   faces are moved alpha spreads along the Smiling vector ("mean" and "logistic"), decoded and
   classified. VAE targets at alpha = the group gap: >= 90% smiling, every other attribute flips
   (vs the plain reconstruction) in <= 10%.
2. CelebA subset: the same on real faces (VAE target: >= 80% smiling), and the plain vs the
   Male-balanced vector: how often the Male prediction flips (the balanced one should flip less).
3. Speed: conv VAE images/s on 64x64 faces, the default config's wall time, and the wall time
   from which its smile edit meets the faces targets (trained on to twice the default epochs).

Run: python -m benchmarks.concepts [--quick] [--only faces|celeba|speed] [--seconds S]
     [--models DIR] [--latent-dim K] [--epochs E] [--beta B]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.common import print_table, shared_data_dir, time_budget
from explorer.core.concepts import direction, edit, group_gap, spread
from training.checkpoints import load_checkpoint, read_info, save_checkpoint
from training.config import LIKELIHOODS, ModelConfig, TrainConfig
from training.data import Dataset, DatasetError, load_dataset
from training.evaluate import decode_all, encode_all, reconstruction_mse
from training.fit import fit, snapshot
from training.models import AE, build_model
from training.recipe import recipe as default_recipe

SMILE = "Smiling"
CELEBA_ATTRIBUTES = ("Smiling", "Male", "Mouth_Slightly_Open", "Young", "Blond_Hair")
GAP_MULTIPLES = (0.0, 0.5, 1.0, 1.5)  # alpha sweep, in units of the group gap
# then alpha in spreads, as the app's slider sets it (a vector starts at its VAE's 1x gap; 2 is
# where one made without groups starts)
SPREAD_ALPHAS = (2.0, 3.0)
TARGET_ROWS = ("1x gap", "2 spreads")
FACES_TARGETS = (90.0, 10.0)  # VAE: >= 90% smiling, every other attribute flips in <= 10%
CELEBA_TARGET = 80.0
MODEL_HEADER = ["data", "model", "latent", "training", "train s", "images/s", "test MSE"]
SPEED_EPOCH_FACTOR = 2  # the speed run goes on past the default epochs, to see when it is usable
CLASSIFIER_EPOCHS = 20  # an upper bound: the time budget usually ends training first


# ---- the judge: a pixel classifier ----


class PixelClassifier(nn.Module):
    """(B, C, H, W) in [0, 1] -> (B, A) logits, one per attribute: four stride-2 convs and a
    linear layer over the whole 4x4 map, so it can tell where a feature is (mouth vs eyes)."""

    def __init__(self, image_shape: tuple[int, int, int], n_attributes: int):
        super().__init__()
        c, h, w = image_shape
        layers: list[nn.Module] = []
        for c_in, c_out in zip((c, 16, 32, 64), (16, 32, 64, 64), strict=True):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.ReLU()]
        self.net = nn.Sequential(
            *layers, nn.Flatten(), nn.Linear(64 * (h // 16) * (w // 16), n_attributes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x - 0.5)


def train_classifier(images: np.ndarray, y: np.ndarray, seconds: float, seed: int = 0):
    """A PixelClassifier fitted on images (N, C, H, W) and 0/1 targets y (N, A) for at most
    `seconds` of wall time (BCE per attribute, Adam)."""
    with torch.random.fork_rng(devices=[]):  # seeded weights without touching the global RNG
        torch.manual_seed(seed)
        model = PixelClassifier(images.shape[1:], y.shape[1])
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    x, y = torch.as_tensor(images), torch.as_tensor(y, dtype=torch.float32)
    gen, stop = torch.Generator().manual_seed(seed), time.perf_counter() + seconds
    for _ in range(CLASSIFIER_EPOCHS):
        for rows in torch.randperm(len(x), generator=gen).split(128):
            loss = F.binary_cross_entropy_with_logits(model(x[rows]), y[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if time.perf_counter() > stop:
                return model.eval()
    return model.eval()


@torch.inference_mode()
def predict(classifier: PixelClassifier, images: np.ndarray) -> np.ndarray:
    """(N, A) bool: the classifier's call (logit > 0) for each attribute."""
    x = torch.as_tensor(images)
    return np.concatenate([(classifier(b) > 0).numpy() for b in x.split(1024)])


def judge(dataset: Dataset, names, seconds: float) -> PixelClassifier:
    """A classifier for the attributes `names`, trained on the train split's images."""
    train = dataset.split()[0]
    cols = [dataset.attribute_names.index(n) for n in names]
    return train_classifier(train.floats(), train.attributes[:, cols], seconds)


def accuracy_rows(classifier, dataset: Dataset, names, models: dict[str, AE]) -> list[list]:
    """% of test images the classifier gets right per attribute, on the images themselves and
    on each model's reconstructions of them (which the edits are judged against)."""
    test = dataset.split()[1]
    y = test.attributes[:, [dataset.attribute_names.index(n) for n in names]]
    inputs = {"test images": test.floats()}
    inputs |= {
        f"{k} reconstructions": decode_all(m, encode_all(m, test.pixels)) for k, m in models.items()
    }
    return [[name, *(100 * (predict(classifier, x) == y).mean(0))] for name, x in inputs.items()]


# ---- the models under test ----


@dataclass(frozen=True)
class Recipe:
    """How the models under test are made; None takes the project's default (the CLI's and
    the app's recipe: training.recipe), no time limit."""

    latent_dim: int | None = None
    epochs: int | None = None
    beta: float | None = None
    seconds: float | None = None  # wall-time budget per model: fit is cancelled after it
    likelihood: str | None = None

    def configs(self, dataset: Dataset, kind: str) -> tuple[ModelConfig, TrainConfig]:
        """What `python -m training fit` would train (training.recipe), with these overrides."""
        chosen = default_recipe(
            dataset,
            latent_dim=self.latent_dim,
            likelihood=self.likelihood,
            epochs=self.epochs,
            beta=self.beta,
        )
        return replace(chosen.model, kind=kind), chosen.train


def saved_path(folder: Path, dataset: Dataset, kind: str, latent_dim: int) -> Path:
    """Where a trained model is saved: one folder per dataset and latent size."""
    return folder / f"{dataset.name}-{latent_dim}d" / f"{kind}.safetensors"


def saved_model(dataset: Dataset, config: ModelConfig, folder: Path | None) -> AE | None:
    """DIR/kind.safetensors or the saved_path, if it holds a model of this kind and latent size
    trained on this very data; else None."""
    if folder is None:
        return None
    kind, latent_dim = config.kind, config.latent_dim
    for path in (folder / f"{kind}.safetensors", saved_path(folder, dataset, kind, latent_dim)):
        info = read_info(path) if path.is_file() else {}
        if (
            info
            and info["dataset"].get("fingerprint") == dataset.fingerprint()
            and info["model_config"]["kind"] == kind
            and info["model_config"]["latent_dim"] == latent_dim
        ):
            return load_checkpoint(path).model
    return None


def model_for(dataset: Dataset, kind: str, recipe: Recipe, folder: Path | None):
    """(model, table row): loaded (see saved_model), else trained with the recipe and, when a
    folder is given, saved to its saved_path for the next run."""
    test = dataset.split()[1].pixels
    model_config, config = recipe.configs(dataset, kind)
    model = saved_model(dataset, model_config, folder)
    if model is not None:
        row = [dataset.name, kind, model_config.latent_dim, f"loaded from {folder}", "", ""]
        return model, [*row, reconstruction_mse(model, test)]
    model = build_model(model_config, seed=config.seed)
    result = fit(
        model,
        dataset.pixels,
        config,
        cancel=time_budget(recipe.seconds),
        indices=dataset.train_indices,
    )
    if folder is not None:
        path = saved_path(folder, dataset, kind, model_config.latent_dim)
        save_checkpoint(path, model, config, dataset, history=result.history)
    training = (
        f"{len(result.history)}/{config.epochs} epochs, beta {config.beta:g} ({result.status})"
    )
    return model, [
        dataset.name,
        kind,
        model_config.latent_dim,
        training,
        result.seconds,
        result.samples_per_s,
        reconstruction_mse(model, test),
    ]


def models_for(dataset: Dataset, recipe: Recipe, folder) -> tuple[dict[str, AE], list[list]]:
    """The AE and the VAE, and one table row each."""
    pairs = {kind: model_for(dataset, kind, recipe, folder) for kind in ("ae", "vae")}
    return {k: m for k, (m, _) in pairs.items()}, [row for _, row in pairs.values()]


# ---- edits ----


def smile_codes(model: AE, dataset: Dataset):
    """(train codes, their Smiling labels, codes of the held-out non-smiling faces)."""
    train, test = dataset.split()
    s = dataset.attribute_names.index(SMILE)
    frowning = test.pixels[test.attributes[:, s] == 0]
    return encode_all(model, train.pixels), train.attributes[:, s], encode_all(model, frowning)


def edited_calls(model, classifier, z, u, step, alphas) -> np.ndarray:
    """(len(alphas), N, A) classifier calls on decode(z + alpha * step * u), for codes z (N, K)."""
    return np.stack(
        [predict(classifier, decode_all(model, edit(z, u, step, a)[0])) for a in alphas]
    )


def sweep(gap: float) -> tuple[list[str], np.ndarray]:
    """Row labels and alphas (in spreads): multiples of the group gap, then fixed spreads."""
    labels = [f"{m:g}x gap" for m in GAP_MULTIPLES] + [f"{a:g} spreads" for a in SPREAD_ALPHAS]
    return labels, np.array([m * gap for m in GAP_MULTIPLES] + list(SPREAD_ALPHAS))


def edit_rows(label: list, calls: np.ndarray, labels, alphas, names) -> list[list]:
    """One row per alpha: % classified smiling, then % whose call on each other attribute
    differs from the plain reconstruction's (alphas[0] must be 0)."""
    s = names.index(SMILE)
    others = [j for j in range(len(names)) if j != s]
    rows = []
    for text, alpha, c in zip(labels, alphas, calls, strict=True):
        flips = [100 * (c[:, j] != calls[0][:, j]).mean() for j in others]
        rows.append([*label, text, float(alpha), 100 * c[:, s].mean(), *flips])
    return rows


def faces_rows(model, kind, classifier, faces, names, methods=("mean", "logistic")) -> list[list]:
    """Edit rows for each method, alpha in multiples of each vector's own group gap, with
    whether the 1x-gap and 2-spread rows meet the targets."""
    z_train, y, z_edit = smile_codes(model, faces)
    rows = []
    for method in methods:
        u = direction(z_train, y, method)
        step = spread(z_train, u)
        labels, alphas = sweep(group_gap(z_train, y, u, step))
        calls = edited_calls(model, classifier, z_edit, u, step, alphas)
        rows += edit_rows([kind, method], calls, labels, alphas, names)
    for row in rows:
        met = row[4] >= FACES_TARGETS[0] and max(row[5:]) <= FACES_TARGETS[1]
        row.append(("yes" if met else "NO") if row[2] in TARGET_ROWS else "")
    return rows


def celeba_rows(model, kind, classifier, celeba) -> list[list]:
    """Edit rows for the plain and the Male-balanced mean vector. Both move codes the same
    distance: alpha in multiples of the plain vector's gap, times the plain vector's spread."""
    z_train, y, z_edit = smile_codes(model, celeba)
    male = celeba.split()[0].attributes[:, celeba.attribute_names.index("Male")]
    plain, balanced = direction(z_train, y), direction(z_train, y, balance=male)
    step = spread(z_train, plain)
    labels, alphas = sweep(group_gap(z_train, y, plain, step))
    rows = []
    for name, u in (("plain", plain), ("balanced", balanced)):
        calls = edited_calls(model, classifier, z_edit, u, step, alphas)
        own_gap = group_gap(z_train, y, u, spread(z_train, u))
        rows += [
            [*r, f"{own_gap:.2f}", f"{u @ plain:.3f}"]
            for r in edit_rows([kind, name], calls, labels, alphas, CELEBA_ATTRIBUTES)
        ]
    return rows


# ---- speed and time to a usable model ----


def speed_rows(faces: Dataset, classifier, names, recipe: Recipe) -> list[list]:
    """Train the conv VAE on faces for SPEED_EPOCH_FACTOR times the recipe's epochs (no time
    limit), keeping the weights at each epoch's end. There is no learning-rate schedule, so the
    first epochs are exactly the default run; the rest show whether more training would help.
    Per epoch: wall time since the start, that epoch's images/s, the smile edit (mean, 1x gap)."""
    train = faces.split()[0]
    model_config, default = recipe.configs(faces, "vae")
    config = replace(default, epochs=default.epochs * SPEED_EPOCH_FACTOR)
    model = build_model(model_config, seed=config.seed)
    steps_per_epoch = train.n_samples // config.batch_size
    ends = []  # (seconds since start, weights) at each epoch's end

    def on_progress(p) -> None:
        if p.step % steps_per_epoch == 0:
            ends.append((time.perf_counter() - start, snapshot(model)))

    start = time.perf_counter()
    fit(model, train.pixels, config, on_progress=on_progress)
    rows, before = [], 0.0
    for epoch, (seconds, weights) in enumerate(ends, 1):
        model.load_state_dict(weights)
        row = faces_rows(model, "vae", classifier, faces, names, ("mean",))[2]  # 1x gap
        rate = steps_per_epoch * config.batch_size / (seconds - before)
        end = "<- default ends" if epoch == default.epochs else ""
        rows.append([epoch, end, seconds, rate, row[4], max(row[5:-1]), row[-1]])
        before = seconds
    return rows


def speed_summary(rows: list[list]) -> list[list]:
    """Median images/s over epochs 2.. (epoch 1 holds warm-up), the default config's wall
    time, and the first wall time from which every later epoch meets the targets."""
    rates = [r[3] for r in rows[1:]] or [rows[0][3]]
    default = next(r[2] for r in rows if r[1])
    usable = next((r for i, r in enumerate(rows) if all(x[-1] == "yes" for x in rows[i:])), None)
    when = f"{usable[2]:.0f} s (epoch {usable[0]})" if usable else f"not in {len(rows)} epochs"
    median = statistics.median(rates)
    return [[torch.get_num_threads(), median, min(rates), max(rates), default, when]]


# ---- main ----


def models_and_judge(dataset: Dataset, names, classifier, recipe, folder) -> dict[str, AE]:
    """Train or load the pair, and print it and how well the judge reads images and their
    reconstructions."""
    models, rows = models_for(dataset, recipe, folder)
    label = "CelebA" if dataset.name == "celeba" else dataset.name
    print_table(f"{label}: models", MODEL_HEADER, rows)
    print_table(
        f"{label}: pixel classifier, test accuracy %",
        ["classified", *names],
        accuracy_rows(classifier, dataset, names, models),
    )
    return models


def run_faces(faces, classifier, names, recipe, folder) -> None:
    models = models_and_judge(faces, names, classifier, recipe, folder)
    others = [f"{n} flips %" for n in names if n != SMILE]
    print_table(
        "faces: held-out non-smiling faces edited along Smiling (alpha in spreads; flips vs the "
        f"plain reconstruction); VAE targets at 1x gap (where the app's alpha starts) and at "
        f"2 spreads: >= {FACES_TARGETS[0]:g}% smiling, flips <= {FACES_TARGETS[1]:g}%",
        ["model", "vector", "gap", "alpha", "smiling %", *others, "targets met"],
        [r for kind, m in models.items() for r in faces_rows(m, kind, classifier, faces, names)],
    )


def run_celeba(recipe, classifier_seconds, folder) -> None:
    try:
        celeba = load_dataset("celeba", shared_data_dir() / "celeba_subset")
    except DatasetError as e:
        print(f"\nskipped CelebA: {e}")
        return
    classifier = judge(celeba, CELEBA_ATTRIBUTES, classifier_seconds)
    models = models_and_judge(celeba, CELEBA_ATTRIBUTES, classifier, recipe, folder)
    others = [f"{n} flips %" for n in CELEBA_ATTRIBUTES if n != SMILE]
    print_table(
        "CelebA: held-out non-smiling faces edited along Smiling (mean vector; alpha in "
        "multiples of the plain vector's gap, then in its spreads, same step for both); VAE "
        f"target: >= {CELEBA_TARGET:g}% smiling, balanced flips Male less",
        ["model", "vector", "gap", "alpha", "smiling %", *others, "own gap", "cos to plain"],
        [r for kind, m in models.items() for r in celeba_rows(m, kind, classifier, celeba)],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("faces", "celeba", "speed"))
    parser.add_argument("--seconds", type=float, help="training budget per model (default: none)")
    parser.add_argument("--latent-dim", type=int, help="default: training.presets (conv data)")
    parser.add_argument("--epochs", type=int, help="default: default_train_config's")
    parser.add_argument("--beta", type=float, help="VAE KL weight (default: 1)")
    parser.add_argument("--likelihood", choices=LIKELIHOODS, help="default: the recipe's")
    parser.add_argument("--classifier-seconds", type=float, default=45.0)
    parser.add_argument("--models", type=Path, help="load models from here, or save them here")
    parser.add_argument("--quick", action="store_true", help="tiny budgets, to check the script")
    args = parser.parse_args()
    recipe = Recipe(
        args.latent_dim,
        args.epochs,
        args.beta,
        15.0 if args.quick else args.seconds,
        args.likelihood,
    )
    classifier_seconds = 10.0 if args.quick else args.classifier_seconds

    if args.only in (None, "faces", "speed"):
        faces = load_dataset("faces")
        names = list(faces.attribute_names)
        classifier = judge(faces, names, classifier_seconds)
    if args.only in (None, "faces"):
        run_faces(faces, classifier, names, recipe, args.models)
    if args.only in (None, "celeba"):
        run_celeba(recipe, classifier_seconds, args.models)
    if args.only in (None, "speed"):
        speed_recipe = replace(recipe, seconds=None, epochs=1 if args.quick else recipe.epochs)
        rows = speed_rows(faces, classifier, names, speed_recipe)
        print_table(
            "speed: conv VAE on 64x64 faces (default config unless overridden), per epoch; smile "
            "edit: mean vector, 1x gap",
            ["epoch", "", "wall s", "images/s", "smiling %", "max flip %", "targets met"],
            rows,
        )
        print_table(
            "speed: summary (median over epochs 2..; usable: meets the faces targets from then on)",
            ["torch threads", "median images/s", "min", "max", "default config s", "usable after"],
            speed_summary(rows),
        )


if __name__ == "__main__":
    main()
