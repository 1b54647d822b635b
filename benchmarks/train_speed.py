"""Training throughput: the project's fit vs the plain PyTorch reference recipe, side by side.

Model: MNIST-shaped MLP VAE 784-512-2 (Bernoulli likelihood, beta = 1). The reference is the
pytorch/examples VAE recipe: fp32, batch 128, a DataLoader over a TensorDataset, Adam 1e-3.
Each recipe trains EPOCHS epochs on MNIST's 60,000 training images; throughput is the median
over epochs 2.. (epoch 1 holds one-time warm-up such as torch.compile), and the test -ELBO at
the end shows that speed did not cost quality.

Run: python -m benchmarks.train_speed [--epochs 5]
     python -m benchmarks.train_speed --torchrun   (only: torchrun with 1 vs 2 processes)
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from benchmarks.common import ROOT, matmul_peak_gflops, print_table, shared_data_dir, time_budget
from training.checkpoints import load_checkpoint
from training.data import DatasetError, load_dataset
from training.evaluate import binarized, negative_elbo
from training.fit import fit, resolve_precision
from training.models import build_model
from training.presets import default_model_config, default_train_config

HIDDEN, LATENT = 512, 2


def flops_per_sample() -> float:
    """Forward + backward FLOPs of 784-512-2 (encoder to mu and logvar) and 2-512-784.

    Forward: 2 * MACs. Backward: weight gradients (2 * MACs) plus input gradients for every
    layer but the first (whose input is data).
    """
    macs = 784 * HIDDEN + HIDDEN * 2 * LATENT + LATENT * HIDDEN + HIDDEN * 784
    return 2 * macs + 2 * macs + 2 * (macs - 784 * HIDDEN)


class ReferenceVAE(nn.Module):
    """The pytorch/examples VAE, with the same sizes as the project's model."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = (
            nn.Linear(784, HIDDEN),
            nn.Linear(HIDDEN, LATENT),
            nn.Linear(HIDDEN, LATENT),
        )
        self.fc3, self.fc4 = nn.Linear(LATENT, HIDDEN), nn.Linear(HIDDEN, 784)

    def forward(self, x):
        h = F.relu(self.fc1(x.view(-1, 784)))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar


def reference_recipe(images: np.ndarray, epochs: int) -> tuple[list[float], ReferenceVAE]:
    """Train the reference; returns samples/s of each epoch, and the model."""
    torch.manual_seed(0)
    model = ReferenceVAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(torch.as_tensor(images)), batch_size=128, shuffle=True)
    rates = []
    for _ in range(epochs):
        start = time.perf_counter()
        for (x,) in loader:
            optimizer.zero_grad()
            recon, mu, logvar = model(x)
            bce = F.binary_cross_entropy(recon, x.view(-1, 784), reduction="sum")
            kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            (bce + kld).backward()
            optimizer.step()
        rates.append(len(images) / (time.perf_counter() - start))
    return rates, model


@torch.inference_mode()
def reference_neg_elbo(model: ReferenceVAE, x: np.ndarray) -> float:
    """Single-sample -ELBO in nats per image, as negative_elbo computes it for our models."""
    torch.manual_seed(0)
    x = torch.as_tensor(x).view(-1, 784)
    recon, mu, logvar = model(x)
    bce = F.binary_cross_entropy(recon, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return (bce + kld).item() / len(x)


def project_recipe(
    images, test_images, epochs: int, seconds: float | None = None, **train_options
) -> tuple[list[float], float]:
    """Train with fit() and the default config for 60,000 images (batch 512, lr 2e-3) for
    `epochs`, or until `seconds` have passed; returns samples/s of each epoch after the
    first, and the test -ELBO."""
    model = build_model(default_model_config((1, 28, 28), "vae", hidden=(HIDDEN,)), seed=0)
    config = default_train_config(len(images), epochs=epochs, **train_options)
    steps_per_epoch = len(images) // config.batch_size
    epoch_ends: list[float] = []

    def on_progress(p):
        if p.step % steps_per_epoch == 0:
            epoch_ends.append(time.perf_counter())

    fit(model, images, config, on_progress=on_progress, cancel=time_budget(seconds), report_every=1)
    rates = [
        steps_per_epoch * config.batch_size / (b - a)
        for a, b in zip(epoch_ends, epoch_ends[1:], strict=False)
    ]
    return rates, negative_elbo(model, test_images)


def load_mnist() -> tuple[np.ndarray, np.ndarray, str]:
    try:
        data = load_dataset("mnist", shared_data_dir() / "mnist")
        train, test = data.split()
        return train.floats(), test.floats(), "MNIST (60,000 train images)"
    except DatasetError as e:
        rng = np.random.default_rng(0)
        print(f"note: {e}\nusing random MNIST-shaped data instead")
        x = rng.random((70_000, 1, 28, 28), dtype=np.float32)
        return x[:60_000], x[60_000:], "random MNIST-shaped data"


TORCHRUN_EPOCHS = 2  # 2 x 58 steps of a global batch of 1,024 on MNIST's 60,000 images


def torchrun_fit(n_procs: int, batch_size: int, out: Path) -> tuple[dict[str, float], float]:
    """`torchrun --nproc_per_node=n_procs -m training fit` of the default MNIST MLP pair in fp32;
    returns each model's samples/s as fit reports it (training steps only), and the job's wall
    seconds (start-up, data loading and rank 0's evaluation included)."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={n_procs}",
        "-m",
        "training",
        "fit",
        "--dataset",
        "mnist",
        "--data-dir",
        str(shared_data_dir() / "mnist"),
        "--epochs",
        str(TORCHRUN_EPOCHS),
        "--batch-size",
        str(batch_size),
        "--precision",
        "fp32",
        "--out",
        str(out),
    ]
    start = time.perf_counter()
    job = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if job.returncode != 0:
        raise SystemExit(f"torchrun with {n_procs} processes failed:\n{job.stderr[-3000:]}")
    found = re.findall(r"^(ae|vae): trained .*\(([\d,]+) samples/s", job.stdout, re.MULTILINE)
    return {kind: float(rate.replace(",", "")) for kind, rate in found}, time.perf_counter() - start


def max_param_difference(a: nn.Module, b: nn.Module) -> float:
    pairs = zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    return max((x - y).abs().max().item() for x, y in pairs)


def torchrun_table(global_batch: int = 1024) -> None:
    """1 process with the global batch vs 2 processes with half of it each: throughput, and how
    far the 2-process weights are from the single process's (equivalent by construction)."""
    rows, models = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for n_procs in (1, 2):
            out = Path(tmp) / str(n_procs)
            rates, seconds = torchrun_fit(n_procs, global_batch // n_procs, out)
            models[n_procs] = {k: load_checkpoint(out / f"{k}.safetensors").model for k in rates}
            diff = {k: max_param_difference(m, models[1][k]) for k, m in models[n_procs].items()}
            rows.append(
                [
                    n_procs,
                    global_batch // n_procs,
                    global_batch,
                    rates["ae"],
                    rates["vae"],
                    seconds,
                    f"ae {diff['ae']:.1e}, vae {diff['vae']:.1e}",
                ]
            )
    print_table(
        f"torchrun (gloo, CPU), default MNIST MLP pair, fp32, {TORCHRUN_EPOCHS} epochs of "
        f"{60_000 // global_batch} steps; samples/s over the training steps",
        [
            "processes",
            "batch/process",
            "global batch",
            "ae samples/s",
            "vae samples/s",
            "job wall s",
            "max |param diff| vs 1 process",
        ],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument(
        "--torchrun", action="store_true", help="only the table of torchrun, 1 vs 2 processes"
    )
    args = parser.parse_args()
    if args.torchrun:
        torchrun_table()
        return
    train, test, what = load_mnist()
    test_bin = binarized(test, seed=0)
    peaks = {
        p: matmul_peak_gflops(d) for p, d in (("fp32", torch.float32), ("bf16", torch.bfloat16))
    }
    auto = resolve_precision("auto", torch.device("cpu"))
    print(
        f"{what}; {torch.get_num_threads()} threads; auto precision = {auto}; "
        f"matmul peak fp32 {peaks['fp32']:.0f}, bf16 {peaks['bf16']:.0f} GFLOP/s"
    )

    start = time.perf_counter()
    ref_rates, ref_model = reference_recipe(train, args.epochs)
    ref_seconds = time.perf_counter() - start
    ref = statistics.median(ref_rates[1:])
    rows = [
        [
            "reference (pytorch/examples)",
            "fp32",
            128,
            "no",
            ref,
            1.0,
            100 * ref * flops_per_sample() / 1e9 / peaks["fp32"],
            reference_neg_elbo(ref_model, test_bin),
        ]
    ]
    for precision, compiled in (("fp32", False), (auto, False), (auto, True)):
        rates, neg_elbo = project_recipe(
            train, test_bin, args.epochs, precision=precision, compile=compiled
        )
        rate = statistics.median(rates)
        rows.append(
            [
                f"fit ({'compiled' if compiled else 'eager'})",
                precision,
                512,
                "yes" if compiled else "no",
                rate,
                rate / ref,
                100 * rate * flops_per_sample() / 1e9 / peaks[precision],
                neg_elbo,
            ]
        )
    print_table(
        f"MLP VAE 784-{HIDDEN}-{LATENT}, {args.epochs} epochs; samples/s = median over epochs 2..",
        [
            "recipe",
            "precision",
            "batch",
            "compile",
            "samples/s",
            "x reference",
            "% of matmul peak",
            f"test -ELBO after {args.epochs} ep",
        ],
        rows,
    )

    _, same_time_elbo = project_recipe(train, test_bin, 1000, seconds=ref_seconds)
    print_table(
        f"Quality at equal wall time ({ref_seconds:.0f} s, the reference's {args.epochs} epochs)",
        ["recipe", "test -ELBO"],
        [["reference (pytorch/examples)", rows[0][-1]], [f"fit ({auto}, eager)", same_time_elbo]],
    )


if __name__ == "__main__":
    main()
