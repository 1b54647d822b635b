"""Model quality of the defaults (what `python -m training fit` and the app train with no
options) against published numbers and the PCA baseline, with wall time.

1. MNIST: the default pair (`fit --dataset mnist --latent-dim 2`); the 2-D VAE's
   importance-weighted NLL on dynamically binarized test digits (published: about 135.7 nats;
   target <= 137 within 4 minutes of training).
2. Default models that teach (issue 19), for each dataset's default pair and its preview:
   the Frechet distance of 2,000 prior samples (z ~ N(0, I)) to 2,000 held-out images in a
   PCA-64 space of 4,000 other real images, AE and VAE, and AE / VAE (target >= 2); test MSE
   against PCA's (targets: AE <= 0.8x, VAE <= 1.0x); the hole map's share of holes (AE
   clearly above VAE); on faces the counterfactual smile (training/quality.py: gain >= 0.5,
   >= 70% of edits nearest the true smiling twin); time to the preview and to the full pair
   (faces: shipped, no training). The judge's smile figures: benchmarks/concepts.py.
3. AE vs PCA reconstruction MSE at latent sizes 2 and 16, each AE trained for a fixed time
   (target: the AE wins everywhere), on MNIST, Fashion-MNIST, faces and CelebA where found.
4. digits: wall time until the default AE and VAE have converged (target: <= 5 s together).

Run: python -m benchmarks.quality [--only digits defaults ...] [--datasets faces celeba ...]
     [--pretrained DIR] [--ae-seconds 90] [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.common import print_table, shared_data_dir, time_budget
from explorer.core import holes
from explorer.core.model_pair import KINDS, build_pair
from training import pretrained
from training.checkpoints import load_checkpoint
from training.config import Recipe, TrainConfig
from training.data import Dataset, DatasetError, load_dataset
from training.evaluate import binarized, evaluate, importance_weighted_nll
from training.fit import fit
from training.models import build_model
from training.presets import default_model_config, default_train_config
from training.recipe import has_preview, recipe, train_side_by_side

IW_SAMPLES = 1000
MNIST_MINUTES = 4


def train(dataset: Dataset, kind: str, latent_dim: int, config: TrainConfig, seconds=None):
    """Fit one default model on the train split, for config.epochs or until `seconds` have
    passed (fit's cancel event ends it); returns (model, fit result)."""
    model_config = default_model_config(dataset.image_shape, kind, latent_dim=latent_dim)
    model = build_model(model_config, seed=config.seed)
    budget = time_budget(seconds)
    return model, fit(model, dataset.pixels, config, cancel=budget, indices=dataset.train_indices)


def default_recipe(dataset: Dataset, **overrides) -> Recipe:
    """What `python -m training fit --dataset NAME` trains: the benchmark has no recipe of its
    own (tests/test_presets.py holds it to that)."""
    return recipe(dataset, **overrides)


def default_pair(dataset: Dataset, stage: str = "full", **overrides) -> tuple[dict, float]:
    """Train the default pair as the CLI and the app do (training, evaluation, checkpoints in a
    temporary folder); returns ({kind: TrainedModel}, wall seconds)."""
    chosen = default_recipe(dataset, stage=stage, **overrides)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        trained = train_side_by_side(dataset, ("ae", "vae"), chosen.train, folder, chosen.model)
    return {e.kind: e for e in trained}, time.perf_counter() - start


def mnist_vae_nll(mnist: Dataset, epochs: int | None) -> list:
    """The default pair on MNIST, then the VAE's NLL on the binarized test set by importance
    sampling (the first seeded binarization, as `python -m training evaluate` draws it)."""
    trained, seconds = default_pair(mnist, epochs=epochs)
    vae = trained["vae"]
    nll = importance_weighted_nll(vae.model, binarized(mnist.split()[1].pixels, 0), IW_SAMPLES)
    hidden = "-".join(map(str, vae.model.config.hidden))
    return [
        f"VAE 784-{hidden}-2 (default)",
        len(vae.result.history),
        vae.result.seconds,
        seconds,
        vae.metrics["neg_elbo"],
        nll,
        f"<= 137 within {MNIST_MINUTES} min",
        "yes" if nll <= 137 and vae.result.seconds <= MNIST_MINUTES * 60 else "NO",
    ]


def teaching_pairs(
    dataset: Dataset, epochs: int | None, ahead: Path | None = None
) -> list[tuple[str, dict, str]]:
    """(stage, {kind: model}, how long it took) of the dataset's preview (where it has one) and
    full pair: the shipped pair where one ships, else one trained ahead by `python -m training
    pretrained` in ahead/<dataset>/ (timed by its manifest), else trained now by the recipe."""
    pairs = []
    if has_preview(dataset):
        trained, seconds = default_pair(dataset, stage="preview", epochs=epochs)
        pairs.append(("preview", {k: e.model for k, e in trained.items()}, f"{seconds:.0f} s"))
    folder = pretrained.shipped_folder(dataset.name)
    made_ahead = ahead and ahead / dataset.name
    if folder is not None and epochs is None:
        models = {k: load_checkpoint(folder / f"{k}.safetensors").model for k in KINDS}
        pairs.append(("full", models, "shipped"))
    elif made_ahead and (made_ahead / pretrained.MANIFEST).is_file():
        seconds = pretrained.read_manifest(made_ahead)["trained"]["seconds"]
        models = {k: load_checkpoint(made_ahead / f"{k}.safetensors").model for k in KINDS}
        pairs.append(("full", models, f"{seconds:.0f} s (ahead)"))
    else:
        trained, seconds = default_pair(dataset, epochs=epochs)
        pairs.append(("full", {k: e.model for k, e in trained.items()}, f"{seconds:.0f} s"))
    return pairs


def teaching_row(dataset: Dataset, stage: str, models: dict, took: str) -> list:
    """One row of the "Default models" table: what a class sees of the pair."""
    metrics = {k: evaluate(m, dataset) for k, m in models.items()}
    f = pretrained.figures(dataset, models, metrics)
    grids = holes.pair_hole_grids(build_pair(dataset, models["ae"], models["vae"], stage))
    frechet, mse, smile = f["frechet"], f["test_mse"], f.get("smile", {})
    config = models["ae"].config
    edits = [
        f"{smile[k]['gain']:.2f} / {100 * smile[k]['nearest']['smiling']:.0f}%" if smile else ""
        for k in KINDS
    ]
    return [
        dataset.name,
        stage,
        f"{config.arch} {config.latent_dim}-D",
        took,
        frechet["ae"],
        frechet["vae"],
        f"{frechet['ae_over_vae']:.2f}",
        f"{mse['ae'] / mse['pca']:.2f}",
        f"{mse['vae'] / mse['pca']:.2f}",
        *(f"{100 * grids[k].hole_share():.0f}%" for k in KINDS),
        *edits,
    ]


def ae_vs_pca(dataset: Dataset, latent_dim: int, seconds: float) -> list:
    arch = default_model_config(dataset.image_shape, "ae").arch
    # a time budget, not a number of steps: a schedule would need the run's length
    config = default_train_config(dataset.n_samples, arch, epochs=10_000, schedule="constant")
    model, result = train(dataset, "ae", latent_dim, config, seconds)
    m = evaluate(model, dataset)
    wins = "yes" if m["recon_mse"] < m["pca_mse"] else "NO"
    return [
        dataset.name,
        str(dataset.image_shape),
        latent_dim,
        len(result.history),
        result.seconds,
        m["recon_mse"],
        m["pca_mse"],
        wins,
    ]


def digits_time_to_converge() -> list[list]:
    """Time of the default AE+VAE, and how close they are to a 4x longer run."""
    digits = load_dataset("digits")
    rows = []
    for kind in ("ae", "vae"):
        config = default_train_config(digits.n_samples)
        model, result = train(digits, kind, 2, config)
        longer, _ = train(
            digits, kind, 2, default_train_config(digits.n_samples, epochs=4 * config.epochs)
        )
        key = "neg_elbo" if kind == "vae" else "recon_mse"
        final, best = evaluate(model, digits)[key], evaluate(longer, digits)[key]
        rows.append(
            [kind, config.epochs, result.seconds, final, best, f"{100 * (final / best - 1):+.1f}%"]
        )
    return rows


FOLDERS = {
    "digits": None,
    "mnist": shared_data_dir() / "mnist",
    "fashion-mnist": None,
    "faces": None,
    "celeba": shared_data_dir() / "celeba_subset",
}


def datasets_found() -> list[Dataset]:
    """MNIST, Fashion-MNIST, faces and CelebA, those that are found on this machine."""
    found = []
    for name, folder in FOLDERS.items():
        try:
            found.append(load_dataset(name, folder))
        except DatasetError as e:
            print(f"skipped {name}: {e}")
    return found


SECTIONS = ("digits", "mnist", "defaults", "ae-vs-pca")
TEACHING_DATASETS = ("digits", "faces", "mnist", "fashion-mnist", "celeba")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=SECTIONS)
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=TEACHING_DATASETS,
        default=TEACHING_DATASETS,
        help="for defaults",
    )
    parser.add_argument(
        "--pretrained",
        type=Path,
        help="for defaults: full pairs trained "
        "ahead in DIR/<dataset>/ by `python -m training pretrained`",
    )
    parser.add_argument("--ae-seconds", type=float, default=90.0, help="for ae-vs-pca")
    parser.add_argument("--quick", action="store_true", help="1-2 epochs, to check the script")
    args = parser.parse_args()
    epochs = 1 if args.quick else None  # None: the defaults

    if "digits" in args.only:
        print_table(
            "digits: default AE and VAE (2-D), time to converge",
            ["model", "epochs", "seconds", "test loss", "4x epochs", "gap"],
            digits_time_to_converge(),
        )
    datasets = {d.name: d for d in datasets_found()}
    if "mnist" in args.only and "mnist" in datasets:
        print_table(
            f"MNIST: the default pair (fit --dataset mnist --latent-dim 2); the VAE's negative "
            f"log-likelihood (nats, binarized test set, k = {IW_SAMPLES})",
            ["model", "epochs", "VAE train s", "pair wall s", "-ELBO", "IW-NLL", "target", "met"],
            [mnist_vae_nll(datasets["mnist"], epochs)],
        )
    if "defaults" in args.only:
        rows = [
            teaching_row(d, *pair)
            for name in args.datasets
            if name in datasets
            for d in [datasets[name]]
            for pair in teaching_pairs(d, epochs, args.pretrained)
        ]
        print_table(
            "Default models that teach: prior samples' Frechet distance to held-out images "
            "(PCA-64 of real images; AE/VAE target >= 2), test MSE / PCA's (AE <= 0.8, VAE <= "
            "1.0), holes in each map, smile edit z + v: gain / share nearest the true smiling "
            "twin (>= 0.5 / >= 70%)",
            [
                "dataset",
                "pair",
                "model",
                "trained",
                "FD AE",
                "FD VAE",
                "AE/VAE",
                "AE/PCA",
                "VAE/PCA",
                "holes AE",
                "holes VAE",
                "smile AE",
                "smile VAE",
            ],
            rows,
        )
    if "ae-vs-pca" in args.only:
        seconds = 5 if args.quick else args.ae_seconds
        print_table(
            f"AE vs PCA: test reconstruction MSE per pixel at the same latent size "
            f"(each AE trained for {seconds:g} s at a constant learning rate)",
            ["dataset", "shape", "latent", "epochs", "train s", "AE", "PCA", "AE wins"],
            [ae_vs_pca(d, k, seconds) for d in datasets.values() for k in (2, 16)],
        )


if __name__ == "__main__":
    main()
