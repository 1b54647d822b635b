import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "training", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_fit_then_evaluate_json_on_digits(tmp_path):
    fitted = run(
        "fit",
        "--dataset",
        "digits",
        "--model",
        "ae",
        "--model",
        "vae",
        "--latent-dim",
        "2",
        "--epochs",
        "5",
        "--seed",
        "1",
        "--out",
        str(tmp_path),
    )
    assert fitted.returncode == 0, fitted.stderr
    assert (tmp_path / "ae.safetensors").is_file() and (tmp_path / "vae.safetensors").is_file()
    assert "recon" in fitted.stderr and "kl" in fitted.stderr  # the progress bar's loss terms
    evaluated = run(
        "evaluate",
        str(tmp_path / "ae.safetensors"),
        str(tmp_path / "vae.safetensors"),
        "--iw-samples",
        "8",
        "--json",
    )
    assert evaluated.returncode == 0, evaluated.stderr
    rows = [json.loads(line) for line in evaluated.stdout.splitlines()]
    assert [r["model"] for r in rows] == ["ae", "vae"]
    for row in rows:
        assert row["dataset"] == "digits" and row["latent_dim"] == 2
        assert {"recon_mse", "pca_mse", "probe_accuracy"} <= set(row)
    assert rows[1]["nll_iw"] <= rows[1]["neg_elbo"] + 1


def test_datasets_lists_every_source_and_where_it_was_found():
    result = run("datasets")
    assert result.returncode == 0
    for name in ("digits", "faces", "mnist", "fashion-mnist", "celeba", "folder"):
        assert name in result.stdout
    assert "bundled with scikit-learn" in result.stdout


@pytest.mark.shared_data("celeba_subset")
def test_datasets_and_fit_find_celeba_in_the_shared_data_folders_celeba_subset(
    shared_data, tmp_path
):
    where = str(shared_data / "celeba_subset")
    listing = run("datasets", "--data-dir", str(shared_data))
    assert listing.returncode == 0, listing.stderr
    assert re.search(rf"^celeba +{re.escape(where)}$", listing.stdout, re.MULTILINE)
    fitted = run(
        "fit",
        "--dataset",
        "celeba",
        "--data-dir",
        str(shared_data),
        "--limit",
        "32",
        "--image-size",
        "16",
        "--model",
        "ae",
        "--epochs",
        "1",
        "--out",
        str(tmp_path),
    )
    assert fitted.returncode == 0, fitted.stderr
    assert f"celeba: 32 images (3, 16, 16) from {where}" in fitted.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fit", "--dataset", "nope", "--out", "x"], "invalid choice"),
        (["fit", "--epochs", "0", "--out", "x"], "epochs"),
        (["fit", "--dataset", "mnist", "--data-dir", "/no/such/dir", "--out", "x"], "no such"),
        (["datasets", "--data-dir", "/no/such/dir"], "no such folder"),
        (["evaluate", "/no/such.safetensors"], "no such file"),
        (["fit"], "--out"),
        (["fit", "--arch", "gru", "--hidden", "64", "64", "--out", "x"], "hidden: a gru coder"),
    ],
)
def test_bad_arguments_exit_non_zero_with_one_clear_line(args, message):
    result = run(*args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert message in lines[0]


def test_a_hostile_checkpoint_exits_with_one_line(tmp_path):
    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(b"\x80\x04K\x01.")
    result = run("evaluate", str(evil))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "pickle" in result.stderr


def test_a_folders_first_load_shows_a_decoding_bar_and_the_cached_one_none(tmp_path, capsys):
    from PIL import Image

    from training.cli import load_with_bar
    from training.data import DataOptions

    for i in range(3):
        Image.new("RGB", (10, 10), (i, 0, 0)).save(tmp_path / f"{i}.png")
    assert load_with_bar("folder", str(tmp_path), DataOptions(image_size=8)).n_samples == 3
    assert "decoding" in capsys.readouterr().err
    load_with_bar("folder", str(tmp_path), DataOptions(image_size=8))
    assert "decoding" not in capsys.readouterr().err


@pytest.mark.slow
def test_fit_trains_conv_models_on_generated_faces(tmp_path):
    fitted = run(
        "fit",
        "--dataset",
        "faces",
        "--limit",
        "256",
        "--image-size",
        "32",
        "--model",
        "vae",
        "--latent-dim",
        "4",
        "--epochs",
        "1",
        "--out",
        str(tmp_path),
    )
    assert fitted.returncode == 0, fitted.stderr
    evaluated = run("evaluate", str(tmp_path / "vae.safetensors"), "--limit", "256", "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    row = json.loads(evaluated.stdout)
    assert row["dataset"] == "faces" and row["latent_dim"] == 4
    assert 0 <= row["probe_accuracy"] <= 1  # mean over the face attributes
