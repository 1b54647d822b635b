"""Data-parallel training under torchrun (gloo on the CPU): 2 processes with batch B train like
one process with batch 2B, rank 0 alone prints and writes, and a faulty rank ends the job
cleanly. Each torchrun call costs 8-11 s here, so there are three."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.core.model_pair import build_pair
from explorer.server import runs
from training import distributed
from training.checkpoints import load_checkpoint
from training.cli import main
from training.data import load_dataset
from training.distributed import Shard
from training.fit import Batches, draw_rows
from training.recipe import recipe, train_side_by_side

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
# digits: 1617 train images, global batch 64: 25 steps an epoch
FIT = ["fit", "--dataset", "digits", "--epochs", "2", "--batch-size", "32", "--precision", "fp32"]
FAULTY = str(ROOT / "tests" / "faulty_rank.py")


def torchrun(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), distributed.TIMEOUT_ENV: "60"}
    return subprocess.run(
        [*TORCHRUN, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def single_process(out: Path, kinds=("ae", "vae"), **overrides):
    """The pair trained in this process as the CLI would, with TrainConfig overrides."""
    dataset = load_dataset("digits")
    chosen = recipe(dataset, **{"epochs": 2, "precision": "fp32", **overrides})
    return dataset, train_side_by_side(dataset, kinds, chosen.train, out, chosen.model)


def max_difference(a: torch.nn.Module, b: torch.nn.Module) -> float:
    pairs = zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    return max((x - y).abs().max().item() for x, y in pairs)


# ---- the shard math, without processes ----


def test_the_ranks_batches_side_by_side_are_the_single_process_batches():
    images = torch.arange(103).view(103, 1, 1, 1)
    indices = np.arange(3, 103)  # 100 rows: 6 global batches of 16, 4 rows dropped
    one = Batches.of(images, indices, batch_size=16, seed=7)
    ranks = [Batches.of(images, indices, batch_size=8, seed=7, shard=Shard(r, 2)) for r in (0, 1)]
    assert one.steps_per_epoch == ranks[0].steps_per_epoch == ranks[1].steps_per_epoch == 6
    for _ in range(2):  # two epochs: each reshuffled alike
        together = [torch.cat(parts) for parts in zip(*(r.epoch() for r in ranks), strict=True)]
        assert all(torch.equal(a, b) for a, b in zip(together, one.epoch(), strict=True))


@pytest.mark.parametrize("sample", [torch.randn, torch.rand])
def test_noise_is_drawn_for_the_global_batch_and_sliced_per_rank(sample):
    def draw(shape, shard):
        return draw_rows(shape, shard, torch.Generator().manual_seed(1), sample)

    whole = draw((8, 3, 2), Shard())
    parts = [draw((4, 3, 2), Shard(r, 2)) for r in (0, 1)]
    assert torch.equal(torch.cat(parts), whole)


def test_the_per_process_batch_shrinks_for_small_data_and_refuses_too_little():
    assert Shard(0, 2).batch_size(64, 1000) == 64
    assert Shard(1, 4).batch_size(64, 100) == 25
    assert Shard(1, 4).rows(25) == slice(25, 50)
    with pytest.raises(ValueError, match="3 training images"):
        Shard(0, 4).batch_size(64, 3)


@pytest.mark.parametrize(("rank", "lines"), [("0", 1), ("1", 0)])
def test_a_bad_argument_is_reported_by_rank_0_alone(monkeypatch, capsys, rank, lines):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", rank)
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--dataset", "nope", "--out", "x"])
    assert exit_.value.code == 2
    assert main(["fit", "--dataset", "digits", "--epochs", "0", "--out", "x"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 2 * lines, err
    assert distributed.current() is None  # failed before any process group was started


# ---- torchrun with 2 gloo processes ----


@pytest.mark.slow
def test_two_processes_with_batch_b_train_like_one_process_with_batch_2b(tmp_path, monkeypatch):
    out = tmp_path / "jobs" / "ddp"
    noisy = ["--binarize", "--denoise", "0.1", "--seed", "3"]  # every random draw is sliced
    job = torchrun("-m", "training", *FIT, *noisy, "--out", str(out))
    assert job.returncode == 0, job.stderr
    assert job.stdout.count("vae: saved") == 1 and job.stdout.count("digits:") == 1  # rank 0

    dataset, trained = single_process(
        tmp_path / "single", batch_size=64, binarize=True, noise_std=0.1, seed=3
    )
    for entry in trained:
        ckpt = load_checkpoint(out / f"{entry.kind}.safetensors")
        assert max_difference(ckpt.model, entry.model) < 1e-5, entry.kind
        for got, want in zip(ckpt.history, entry.result.history, strict=True):
            assert got == pytest.approx(want, rel=1e-5)

    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path))  # the app finds and opens it
    assert [r.id for r in runs.trained_runs("digits")] == ["ddp"]
    ae, vae = (load_checkpoint(out / f"{k}.safetensors").model for k in ("ae", "vae"))
    assert build_pair(dataset, ae, vae, "ddp").codes["vae"].shape[1] == 2


@pytest.mark.slow
def test_a_rank_that_fails_to_start_ends_the_job_and_writes_nothing(tmp_path):
    job = torchrun(FAULTY, "start", *FIT, "--out", str(tmp_path / "out"))
    assert job.returncode != 0
    assert "rank 1 failed to start" in job.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.slow
def test_nan_on_one_rank_stops_every_rank_with_one_message(tmp_path):
    out = tmp_path / "out"
    job = torchrun(FAULTY, "nan:30", *FIT, "--model", "ae", "--out", str(out))  # epoch 2
    assert job.returncode != 0  # the CLI exits 1 on every rank when a model diverged
    message = (
        "ae: loss became nan at step 30 (epoch 2): restored the weights from the end of epoch 1"
    )
    assert job.stdout.count(message) == 1, job.stdout
    assert job.stdout.count("ae: saved") == 1

    _, (entry,) = single_process(tmp_path / "single", kinds=("ae",), epochs=1, batch_size=64)
    ckpt = load_checkpoint(out / "ae.safetensors")  # the weights of the end of epoch 1
    assert len(ckpt.history) == 1
    assert max_difference(ckpt.model, entry.model) < 1e-5
    assert [p.name for p in out.iterdir()] == ["ae.safetensors"]  # no temporary file left
