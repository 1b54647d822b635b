"""Recurrent coders (gru, lstm) against the MLP on MNIST at the same latent size: test MSE,
the VAE's negative ELBO and importance-weighted NLL, training and decoding throughput.

Every model trains with one recipe (batch 128, Adam 2e-3 under onecycle, dynamic binarization,
Bernoulli decoder) for EPOCHS epochs of the first TRAIN_IMAGES training images; "gru-mean"
codes the mean of the encoder's hidden states instead of the last one (measured, not shipped:
the browser follows the last state).

Run: python -m benchmarks.recurrent [--epochs 2] [--train-images 30000] [--iw-samples 25]
     [--out results.jsonl]
"""

from __future__ import annotations

import argparse
import json
import time
import types

import torch

from benchmarks.common import print_table, shared_data_dir
from training.config import ModelConfig, TrainConfig
from training.data import load_dataset
from training.evaluate import evaluate, pca_mse
from training.fit import fit
from training.losses import loss_terms
from training.models import build_model

# (name, arch, hidden, kind, latent_dim), most wanted first: a cut-short run still answers
RUNS = [
    ("gru-128", "gru", (128,), "ae", 2),
    ("gru-128", "gru", (128,), "vae", 2),
    ("mlp", "mlp", (512, 512), "ae", 2),
    ("mlp", "mlp", (512, 512), "vae", 2),
    ("gru-mean-128", "gru", (128,), "vae", 2),
    ("mlp", "mlp", (512, 512), "ae", 16),
    ("mlp", "mlp", (512, 512), "vae", 16),
    ("gru-128", "gru", (128,), "ae", 16),
    ("gru-128", "gru", (128,), "vae", 16),
    ("lstm-128", "lstm", (128,), "vae", 2),
    ("gru-256", "gru", (256,), "vae", 2),
]


def mean_state_forward(self, x: torch.Tensor) -> torch.Tensor:
    """RecurrentEncoder.forward with the mean of h_1 .. h_H in place of h_H."""
    b, c, h, w = x.shape
    states, _ = self.rnn(x.permute(0, 2, 1, 3).reshape(b, h, c * w))
    return self.head(states.mean(1))


def decode_rate(model, latent_dim: int, seconds: float = 2.0) -> float:
    """Images decoded per second from prior samples, in batches of 1,024."""
    z = torch.randn(1024, latent_dim, generator=torch.Generator().manual_seed(0))
    n, start = 0, time.perf_counter()
    with torch.no_grad():
        while time.perf_counter() - start < seconds:
            model.decode(z)
            n += len(z)
    return n / (time.perf_counter() - start)


SPEED_MODELS = [("mlp", (512, 512)), ("gru", (128,)), ("gru", (256,)), ("lstm", (128,))]


def speed_table(seconds: float = 3.0) -> None:
    """Training and decoding images/s of 2-D MNIST-shaped VAEs on random data, alone."""
    x = torch.rand(128, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    rows = []
    for arch, hidden in SPEED_MODELS:
        config = ModelConfig(arch=arch, image_shape=(1, 28, 28), hidden=hidden)
        model = build_model(config, seed=0)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            out = model(x, torch.randn(len(x), 2))
            loss = loss_terms(out, x, "bernoulli")["total"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            n += len(x)
        train_rate = n / (time.perf_counter() - start)
        rows.append([f"{arch}-{hidden[0]}", train_rate, decode_rate(model.eval(), 2, seconds)])
    print_table("VAE, 1x28x28, 2-D: images/s", ["model", "train", "decode"], rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-images", type=int, default=30_000, help="the first N of train")
    parser.add_argument("--iw-samples", type=int, default=25)
    parser.add_argument("--out", default=None, help="also append each row as JSON here")
    parser.add_argument("--speed", action="store_true", help="only the throughput table")
    parser.add_argument("--only", nargs="+", help="only the runs of these model names")
    args = parser.parse_args()
    if args.speed:
        speed_table()
        return
    dataset = load_dataset("mnist", shared_data_dir())
    train = TrainConfig(
        epochs=args.epochs, batch_size=128, lr=2e-3, binarize=True, schedule="onecycle"
    )
    pca = {}
    rows = []
    for name, arch, hidden, kind, k in RUNS:
        if args.only and name not in args.only:
            continue
        config = ModelConfig(
            kind=kind, arch=arch, image_shape=(1, 28, 28), latent_dim=k, hidden=hidden
        )
        model = build_model(config, seed=0)
        if name.startswith("gru-mean"):
            model.encoder.forward = types.MethodType(mean_state_forward, model.encoder)
        subset = dataset.train_indices[: args.train_images]
        result = fit(model, dataset.pixels, train, indices=subset)
        if k not in pca:
            pca[k] = pca_mse(
                dataset.pixels,
                dataset.pixels,
                k,
                train_indices=dataset.train_indices[:20_000],
                test_indices=dataset.test_indices,
            )
        iw = args.iw_samples if kind == "vae" and k == 2 else 0
        m = evaluate(model, dataset, iw_samples=iw, pca_baseline=pca[k])
        row = {
            "model": name,
            "kind": kind,
            "latent": k,
            "epochs": args.epochs,
            "train_images": len(subset),
            "params": sum(p.numel() for p in model.parameters()),
            "mse": m["recon_mse"],
            "neg_elbo": m.get("neg_elbo"),
            "nll_iw": m.get("nll_iw"),
            "probe": m["probe_accuracy"],
            "train_per_s": result.samples_per_s,
            "decode_per_s": decode_rate(model, k),
            "status": result.status,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(json.dumps(row) + "\n")
    header = list(rows[0])
    print_table("recurrent vs MLP, MNIST", header, [[r[h] for h in header] for r in rows])


if __name__ == "__main__":
    main()
