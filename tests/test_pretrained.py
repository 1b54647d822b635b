"""The shipped faces pair against its manifest, and `python -m training pretrained`."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from training import pretrained
from training.checkpoints import load_checkpoint
from training.data import DataOptions, load_dataset
from training.data.faces import DEFAULT_N_FACES
from training.recipe import recipe

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = pretrained.SHIPPED_DIR / "faces"


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "training", "pretrained", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    """The 20,000 generated faces the shipped pair was trained on (drawn into a private cache)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LATENT_EXPLORER_CACHE", str(tmp_path_factory.mktemp("faces-cache")))
        return load_dataset("faces", options=DataOptions(limit=DEFAULT_N_FACES))


def test_the_shipped_files_match_the_manifest_and_fit_the_size_budget():
    manifest = pretrained.verify(SHIPPED)
    files = list(pretrained.SHIPPED_DIR.rglob("*.safetensors"))
    assert sum(f.stat().st_size for f in files) <= pretrained.MAX_SHIPPED_BYTES
    assert manifest["dataset"] == "faces" and manifest["seed"] == 0
    assert {"python", "torch", "numpy"} <= set(manifest["versions"])


def test_the_shipped_models_load_as_the_recipe_says():
    manifest = pretrained.read_manifest(SHIPPED)
    for kind in pretrained.KINDS:
        ckpt = load_checkpoint(SHIPPED / f"{kind}.safetensors")
        assert ckpt.config.kind == kind and ckpt.config.arch == "conv"
        assert list(ckpt.config.image_shape) == manifest["data"]["image_shape"]
        assert ckpt.train_config.beta == manifest["recipe"]["train_config"]["beta"]
        assert all(p.dtype.is_floating_point for p in ckpt.model.parameters())


@pytest.mark.slow
def test_the_shipped_pair_matches_the_faces_and_the_recipe_the_code_has_now(faces):
    manifest = pretrained.read_manifest(SHIPPED)
    assert faces.fingerprint() == manifest["data"]["fingerprint"]  # the renderer is unchanged
    chosen = recipe(faces)
    shipped = load_checkpoint(SHIPPED / "vae.safetensors")
    assert shipped.train_config == chosen.train
    model = chosen.model
    assert (shipped.config.arch, shipped.config.latent_dim) == (model.arch, model.latent_dim)


@pytest.mark.slow
def test_a_shipped_figure_recomputed_on_held_out_faces_is_the_manifests(faces):
    manifest = pretrained.read_manifest(SHIPPED)
    again = pretrained.check_figures(faces, SHIPPED)
    assert again["images"] == manifest["check"]["images"]
    for kind, mse in manifest["check"]["recon_mse"].items():
        assert again["recon_mse"][kind] == pytest.approx(mse, rel=0.01)


def test_the_manifest_records_the_lectures_contrasts():
    figures = pretrained.read_manifest(SHIPPED)["figures"]
    assert figures["frechet"]["ae_over_vae"] >= 2
    assert figures["test_mse"]["ae"] <= 0.8 * figures["test_mse"]["pca"]
    assert figures["test_mse"]["vae"] <= figures["test_mse"]["pca"]
    smile = figures["smile"]["vae"]
    assert smile["gain"] >= 0.5 and smile["nearest"]["smiling"] >= 0.7


def test_pretrained_writes_the_shipped_pair_to_a_folder(tmp_path):
    done = run("faces", "--out", str(tmp_path / "pair"))
    assert done.returncode == 0, done.stderr
    for name in ("ae.safetensors", "vae.safetensors", "manifest.json"):
        assert (tmp_path / "pair" / name).read_bytes() == (SHIPPED / name).read_bytes()
    assert pretrained.verify(tmp_path / "pair")["dataset"] == "faces"


def test_pretrained_refuses_an_unknown_dataset(tmp_path):
    done = run("ponies", "--out", str(tmp_path))
    assert done.returncode == 2 and "invalid choice: 'ponies'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_pretrained_refuses_an_out_that_is_a_file(tmp_path):
    file = tmp_path / "pair"
    file.write_text("not a folder")
    done = run("faces", "--out", str(file))
    assert done.returncode == 2 and f"--out {file} is a file" in done.stderr
    assert file.read_text() == "not a folder"


def test_a_changed_shipped_file_is_refused_by_name(tmp_path, monkeypatch):
    copy = tmp_path / "shipped"
    shutil.copytree(pretrained.SHIPPED_DIR, copy)
    vae = copy / "faces" / "vae.safetensors"
    data = bytearray(vae.read_bytes())
    data[-10] ^= 0xFF  # one weight's byte: still a loadable checkpoint, but not the shipped one
    vae.write_bytes(bytes(data))
    monkeypatch.setattr(pretrained, "SHIPPED_DIR", copy)
    with pytest.raises(pretrained.PretrainedError, match=f"{vae}: does not match its manifest"):
        pretrained.install("faces", tmp_path / "out")
    assert not (tmp_path / "out" / "vae.safetensors").exists()


def test_a_missing_shipped_file_is_refused_by_name(tmp_path, monkeypatch):
    copy = tmp_path / "shipped"
    shutil.copytree(pretrained.SHIPPED_DIR, copy)
    (copy / "faces" / "ae.safetensors").unlink()
    monkeypatch.setattr(pretrained, "SHIPPED_DIR", copy)
    with pytest.raises(pretrained.PretrainedError, match="ae.safetensors: missing"):
        pretrained.verify(copy / "faces")


def test_nothing_ships_for_other_datasets():
    assert pretrained.shipped_names() == ["faces"]
    assert pretrained.shipped_folder("digits") is None
    with pytest.raises(pretrained.PretrainedError, match="no pair ships for 'digits'"):
        pretrained.install("digits", "unused")


@pytest.mark.slow
def test_pretrained_trains_a_full_pair_where_none_ships(tmp_path):
    done = run("digits", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "no pair ships for digits: training its full pair" in done.stdout
    manifest = pretrained.read_manifest(tmp_path)
    assert manifest["dataset"] == "digits" and "ae_over_vae" in manifest["figures"]["frechet"]
    assert pretrained.verify(tmp_path)["files"]["vae.safetensors"]["bytes"] > 0
