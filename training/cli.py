"""Command line: `python -m training datasets | fit | ladder | lineup | pretrained | evaluate`.
Nothing runs at import time.

Under `torchrun --nproc_per_node=N -m training fit ...` the processes train data-parallel
(training/distributed.py); rank 0 alone prints and writes the checkpoints."""

from __future__ import annotations

import argparse
import json
import sys

from tqdm import tqdm

from training import distributed, pretrained
from training.checkpoints import CheckpointError, load_checkpoint
from training.config import ARCHITECTURES, LIKELIHOODS, MODEL_KINDS, SCHEDULES, Recipe
from training.data import DataOptions, Dataset, DatasetError, available_datasets, load_dataset
from training.data.registry import SOURCES
from training.evaluate import evaluate
from training.fit import Progress
from training.ladder import DEFAULT_BETAS, train_ladder
from training.lineup import LINEUP_ARCHS, LINEUP_BATCH, LINEUP_STEPS, plan_lineup, train_lineup
from training.pretrained import PretrainedError
from training.recipe import TrainedModel, recipe, train_side_by_side


class CliError(Exception):
    """A problem to report as one line, without a traceback."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one clear line instead of usage + error; rank 0 only
        line = f"{self.prog}: error: {message} (see --help)\n"
        self.exit(2, line if distributed.is_main_process() else None)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m training", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    datasets = commands.add_parser("datasets", help="list datasets and where each was found")
    datasets.add_argument("--data-dir", help="also look in this folder")

    fit_cmd = commands.add_parser("fit", help="train an AE and/or a VAE side by side")
    add_data_arguments(fit_cmd)
    fit_cmd.add_argument(
        "--model",
        action="append",
        choices=MODEL_KINDS,
        help="repeat for several (default: --model ae --model vae)",
    )
    fit_cmd.add_argument(
        "--latent-dim", type=int, help="default: 2 for the MLP datasets, 32 for faces"
    )
    fit_cmd.add_argument(
        "--arch",
        choices=ARCHITECTURES,
        help="default: mlp up to 28x28 grey, conv for larger or colour images",
    )
    fit_cmd.add_argument("--hidden", type=int, nargs="+", help="MLP hidden sizes, e.g. 512 256")
    fit_cmd.add_argument(
        "--likelihood",
        choices=LIKELIHOODS,
        help="default: bernoulli for the MLP datasets, calibrated (Gaussian) for the rest",
    )
    fit_cmd.add_argument("--epochs", type=int, help="default: enough for the data's size")
    fit_cmd.add_argument(
        "--batch-size", type=int, help="default: 512 for MLPs on big data, else 128"
    )
    fit_cmd.add_argument("--lr", type=float, help="default: 2e-3 or 3e-3 (see presets.py)")
    fit_cmd.add_argument(
        "--schedule", choices=SCHEDULES, help="learning rate (default: onecycle for conv, residual)"
    )
    fit_cmd.add_argument(
        "--beta", type=float, help="weight of the VAE's KL term (default: 16 for conv, else 1)"
    )
    fit_cmd.add_argument(
        "--denoise",
        type=float,
        default=0.0,
        metavar="STD",
        help="denoising AE: train on inputs with this much Gaussian noise",
    )
    fit_cmd.add_argument(
        "--sparse",
        type=float,
        default=0.0,
        metavar="WEIGHT",
        help="sparse AE: L1 penalty weight on the code",
    )
    fit_cmd.add_argument(
        "--binarize",
        action=argparse.BooleanOptionalAction,
        help="dynamically binarize batches (the binarized-MNIST protocol; MNIST's default)",
    )
    fit_cmd.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto")
    fit_cmd.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        help="torch.compile (~30 s of warm-up; measured no faster on MNIST: docs/benchmarks.md)",
    )
    fit_cmd.add_argument("--seed", type=int, default=0)
    fit_cmd.add_argument("--out", required=True, help="folder for ae.safetensors, vae.safetensors")

    ladder = commands.add_parser("ladder", help="train VAEs over beta for the app's beta dial")
    ladder.add_argument(
        "--betas",
        type=float,
        nargs="+",
        default=list(DEFAULT_BETAS),
        help="the KL weights, one VAE each (default: 0 0.1 1 4)",
    )
    add_set_arguments(ladder, "those of the default models", "vae-beta-<beta>", "ladder")

    lineup = commands.add_parser(
        "lineup", help="train an MLP, a conv and a GRU VAE for the app's MLP vs conv vs GRU view"
    )
    lineup.add_argument(
        "--archs",
        choices=ARCHITECTURES,
        nargs="+",
        default=list(LINEUP_ARCHS),
        help="the coders, one VAE each (default: mlp conv gru)",
    )
    epochs = f"{LINEUP_STEPS} steps of {LINEUP_BATCH} images"
    add_set_arguments(lineup, epochs, "vae-<arch>", "lineup")

    pre = commands.add_parser(
        "pretrained",
        help="write a dataset's full pair to a folder: the shipped one (faces), else trained "
        "with the full recipe (before class: --out runs/default/<dataset>)",
    )
    pre.add_argument("dataset", choices=list(SOURCES))
    pre.add_argument("--out", required=True, help="folder for ae.safetensors, vae.safetensors")
    pre.add_argument(
        "--retrain",
        action="store_true",
        help="train even where a pair ships (the recipe in its manifest)",
    )
    pre.add_argument("--data-dir", help="folder holding the dataset's files")
    pre.add_argument("--seed", type=int, default=0)

    ev = commands.add_parser("evaluate", help="metrics of checkpoints on their test split")
    ev.add_argument("checkpoints", nargs="+", metavar="CKPT")
    add_data_arguments(ev, dataset_default=None)
    ev.add_argument(
        "--iw-samples",
        type=int,
        default=0,
        metavar="K",
        help="importance-weighted NLL with K samples (VAEs)",
    )
    ev.add_argument("--json", action="store_true", help="one JSON object per checkpoint")
    return parser


def add_data_arguments(cmd: argparse.ArgumentParser, dataset_default: str | None = "digits"):
    cmd.add_argument("--dataset", choices=list(SOURCES), default=dataset_default)
    cmd.add_argument("--data-dir", help="folder holding the dataset's files")
    cmd.add_argument("--limit", type=int, help="use at most this many images")
    cmd.add_argument("--image-size", type=int, help="side of the square images (faces, folders)")
    cmd.add_argument("--grey", action="store_true", help="folder: load images as grey")
    cmd.add_argument("--attributes", help="folder: CSV of attributes (file column first)")


def add_set_arguments(cmd: argparse.ArgumentParser, epochs: str, file: str, folder: str):
    """The data, --epochs (default: epochs), --seed and --out of a command that trains a set of
    VAEs for an instrument, saved as <file>.safetensors (the app's: runs/default/<dataset>/
    <folder>)."""
    add_data_arguments(cmd)
    cmd.add_argument("--epochs", type=int, help=f"default: {epochs}")
    cmd.add_argument("--seed", type=int, default=0)
    cmd.add_argument(
        "--out",
        required=True,
        help=f"folder for {file}.safetensors (the app's: runs/default/<dataset>/{folder})",
    )


def data_options(args: argparse.Namespace, **overrides) -> DataOptions:
    values = dict(
        limit=args.limit, image_size=args.image_size, grey=args.grey, attributes_csv=args.attributes
    )
    return DataOptions(**{**values, **overrides})


def run_datasets(args: argparse.Namespace) -> int:
    rows = available_datasets(args.data_dir)
    width = max(len(name) for name, _, _ in rows)
    for name, summary, where in rows:
        print(f"{name:<{width}}  {where or 'not found'}\n{'':<{width}}  {summary}")
    return 0


def load_with_bar(name: str, data_dir: str | None, options: DataOptions) -> Dataset:
    """load_dataset with a tqdm bar while image files are decoded (a folder's first load)."""
    bars: list[tqdm] = []

    def progress(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(total=total, desc="decoding", unit="image", dynamic_ncols=True))
        bars[0].update(done - bars[0].n)

    try:
        return load_dataset(name, data_dir, options, progress)
    finally:
        for bar in bars:
            bar.close()


def run_fit(args: argparse.Namespace) -> int:
    """Check the arguments and load the data, then train. Under torchrun a bad argument fails
    on every rank alike before any process joins the process group."""
    verbose = distributed.is_main_process()  # under torchrun, rank 0 alone prints
    load = load_with_bar if verbose else load_dataset
    dataset = load(args.dataset, args.data_dir, data_options(args))
    if verbose:
        print(
            f"{dataset.name}: {dataset.n_samples} images {dataset.image_shape} "
            f"from {dataset.source}"
        )
    chosen = recipe(
        dataset,
        arch=args.arch,
        latent_dim=args.latent_dim,
        likelihood=args.likelihood,
        hidden=tuple(args.hidden) if args.hidden else None,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        beta=args.beta,
        noise_std=args.denoise,
        sparsity=args.sparse,
        binarize=args.binarize,
        seed=args.seed,
        precision=args.precision,
        compile=args.compile,
        schedule=args.schedule,
    )
    kinds = tuple(dict.fromkeys(args.model or MODEL_KINDS))
    with distributed.process_group(chosen.train.device):  # None without torchrun
        # the models and optimizers are freed when train_pair returns, before the group ends
        return train_pair(dataset, kinds, chosen, args.out, verbose)


def train_pair(
    dataset: Dataset,
    kinds: tuple[str, ...],
    chosen: Recipe,
    out: str,
    verbose: bool,
) -> int:
    """Train, save (rank 0) and, if verbose, show progress and results; exit code 1 when a
    model diverged (on every rank alike)."""
    with ProgressBars() as bars:
        trained = train_side_by_side(
            dataset,
            kinds,
            chosen.train,
            out,
            chosen.model,
            on_progress=bars.update if verbose else None,
        )
    if verbose:
        report(trained)
    return 1 if any(e.result.status != "finished" for e in trained) else 0


def report(trained: list[TrainedModel]) -> None:
    for entry in trained:
        r = entry.result
        print(
            f"{entry.kind}: {r.message} ({r.samples_per_s:,.0f} samples/s, "
            f"{r.precision} on {r.device})"
        )
        if entry.path is None:
            print(f"{entry.kind}: nothing saved", file=sys.stderr)
        else:
            print(f"{entry.kind}: saved {entry.path}  " + format_metrics(entry.metrics))


class ProgressBars:
    """One tqdm bar per model, with ETA and the latest loss terms."""

    def __enter__(self):
        self.bars: dict[str, tqdm] = {}
        return self

    def update(self, kind: str, p: Progress) -> None:
        if kind not in self.bars:
            self.bars[kind] = tqdm(total=p.n_steps, desc=kind, unit="step", dynamic_ncols=True)
        bar = self.bars[kind]
        bar.update(p.step - bar.n)
        terms = {k: f"{v:.2f}" for k, v in p.terms.items() if k != "total"}
        bar.set_postfix(epoch=f"{p.epoch}/{p.n_epochs}", **terms)

    def __exit__(self, *exc):
        for bar in self.bars.values():
            bar.close()


def run_ladder(args: argparse.Namespace) -> int:
    """One VAE per beta with the default models' recipe (training/ladder.py); exit code 1
    when one did not finish."""
    dataset = load_with_bar(args.dataset, args.data_dir, data_options(args))
    chosen = recipe(dataset, epochs=args.epochs, seed=args.seed)
    with ProgressBars() as bars:
        trained = train_ladder(
            dataset,
            args.betas,
            chosen.train,
            args.out,
            chosen.model,
            on_progress=lambda b, p, _: bars.update(f"beta={b:g}", p),
        )
    return print_trained({f"beta={beta:g}": entry for beta, entry in trained.items()})


def run_lineup(args: argparse.Namespace) -> int:
    """One VAE per architecture with the same latent size and batches (training/lineup.py);
    an architecture that cannot take the images is skipped with a note; exit code 1 when one
    did not finish."""
    dataset = load_with_bar(args.dataset, args.data_dir, data_options(args))
    plan = plan_lineup(dataset, args.archs, args.epochs, args.seed)
    for arch, reason in plan.skipped.items():
        print(f"{arch}: skipped, it cannot take {dataset.name}'s images ({reason})")
    with ProgressBars() as bars:
        trained = train_lineup(
            dataset,
            args.out,
            args.archs,  # it skips what plan skipped, the same way
            args.epochs,
            args.seed,
            on_progress=lambda arch, p, _: bars.update(arch, p),
        )
    return print_trained(trained)


def print_trained(trained: dict[str, TrainedModel]) -> int:
    """One line per named model: how its training ended and where it was saved; the exit
    code, 1 when one did not finish."""
    for name, entry in trained.items():
        saved = (
            "nothing saved"
            if entry.path is None
            else f"saved {entry.path}  " + (format_metrics(entry.metrics))
        )
        print(f"{name}: {entry.result.message}; {saved}")
    return 1 if any(e.result.status != "finished" for e in trained.values()) else 0


def run_pretrained(args: argparse.Namespace) -> int:
    """Install the shipped pair, or train the full one (shipped pairs: float16, as shipped)."""
    ships = pretrained.shipped_folder(args.dataset) is not None
    if ships and not args.retrain:
        out = pretrained.install(args.dataset, args.out)
        print(f"{args.dataset}: the shipped pair is in {out}")
        return 0
    if not ships:
        print(f"no pair ships for {args.dataset}: training its full pair")
    with ProgressBars() as bars:
        manifest = pretrained.train_full(
            args.dataset, args.out, args.data_dir, args.seed, ship=ships, on_progress=bars.update
        )
    print(f"{args.dataset}: trained in {manifest['trained']['seconds']:.0f} s, saved in {args.out}")
    print(json.dumps(manifest["figures"], indent=2))
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    for path in args.checkpoints:
        ckpt = load_checkpoint(path)
        name = args.dataset or ckpt.dataset.get("name")
        if not name:
            raise CliError(f"{path}: the checkpoint names no dataset; pass --dataset")
        c, h, _ = ckpt.config.image_shape
        options = data_options(args, image_size=args.image_size or h, grey=args.grey or c == 1)
        dataset = load_with_bar(name, args.data_dir, options)
        if dataset.image_shape != ckpt.config.image_shape:
            raise CliError(
                f"{path}: model takes images {ckpt.config.image_shape}, "
                f"{name} has {dataset.image_shape}"
            )
        if dataset.fingerprint() != ckpt.dataset.get("fingerprint"):
            print(f"note: {path} was trained on other data than this {name}", file=sys.stderr)
        metrics = evaluate(ckpt.model, dataset, iw_samples=args.iw_samples)
        print(
            json.dumps({"checkpoint": str(path), **metrics})
            if args.json
            else f"{path}: " + format_metrics(metrics)
        )
    return 0


def format_metrics(metrics: dict) -> str:
    keys = ("recon_mse", "pca_mse", "probe_accuracy", "neg_elbo", "nll_iw")
    return "  ".join(f"{k}={metrics[k]:.4g}" for k in keys if metrics.get(k) is not None)


COMMANDS = {
    "datasets": run_datasets,
    "fit": run_fit,
    "ladder": run_ladder,
    "lineup": run_lineup,
    "evaluate": run_evaluate,
    "pretrained": run_pretrained,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (CliError, DatasetError, CheckpointError, PretrainedError, ValueError, OSError) as e:
        if distributed.is_main_process():  # under torchrun every rank fails alike: one says so
            print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if distributed.is_main_process():
            print("interrupted: nothing saved for the model in training", file=sys.stderr)
        return 130
