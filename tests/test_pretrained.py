"""The shipped pairs (faces, waves) against their manifests, and `python -m training pretrained`."""

import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from training import pretrained
from training.checkpoints import load_checkpoint
from training.data import DataOptions, load_dataset
from training.data.faces import DEFAULT_N_FACES
from training.data.waves import DEFAULT_N_WAVES
from training.recipe import recipe

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = pretrained.SHIPPED_DIR / "faces"
SHIPPED_NAMES = ["faces", "waves"]
# Each shipped pair's data as it was trained on: the whole generated dataset.
FULL_SIZE = {"faces": DEFAULT_N_FACES, "waves": DEFAULT_N_WAVES}


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "training", "pretrained", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """name -> the generated dataset its shipped pair was trained on (drawn into a private
    cache), made on first use."""
    cache = tmp_path_factory.mktemp("generated-cache")
    made = {}

    def get(name):
        if name not in made:
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("LATENT_EXPLORER_CACHE", str(cache))
                made[name] = load_dataset(name, options=DataOptions(limit=FULL_SIZE[name]))
        return made[name]

    return get


def test_the_shipped_files_fit_the_size_budget_together():
    assert pretrained.shipped_names() == SHIPPED_NAMES
    files = list(pretrained.SHIPPED_DIR.rglob("*.safetensors"))
    assert sum(f.stat().st_size for f in files) <= pretrained.MAX_SHIPPED_BYTES


@pytest.mark.parametrize("name", SHIPPED_NAMES)
def test_the_shipped_files_match_the_manifest(name):
    manifest = pretrained.verify(pretrained.SHIPPED_DIR / name)
    assert manifest["dataset"] == name and manifest["seed"] == 0
    assert {"python", "torch", "numpy"} <= set(manifest["versions"])


@pytest.mark.parametrize("name", SHIPPED_NAMES)
def test_the_shipped_models_load_as_the_recipe_says(name):
    folder = pretrained.SHIPPED_DIR / name
    manifest = pretrained.read_manifest(folder)
    for kind in pretrained.KINDS:
        ckpt = load_checkpoint(folder / f"{kind}.safetensors")
        assert ckpt.config.kind == kind
        assert ckpt.config.arch == manifest["recipe"]["model_config"]["arch"]
        assert list(ckpt.config.image_shape) == manifest["data"]["image_shape"]
        assert ckpt.train_config.beta == manifest["recipe"]["train_config"]["beta"]
        assert all(p.dtype.is_floating_point for p in ckpt.model.parameters())


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED_NAMES)
def test_the_shipped_pair_matches_the_data_and_the_recipe_the_code_has_now(name, generated):
    dataset, folder = generated(name), pretrained.SHIPPED_DIR / name
    manifest = pretrained.read_manifest(folder)
    assert dataset.fingerprint() == manifest["data"]["fingerprint"]  # the generator is unchanged
    chosen = recipe(dataset)
    shipped = load_checkpoint(folder / "vae.safetensors")
    assert shipped.train_config == chosen.train
    assert shipped.config == replace(chosen.model, kind="vae")


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED_NAMES)
def test_a_shipped_figure_recomputed_on_held_out_data_is_the_manifests(name, generated):
    folder = pretrained.SHIPPED_DIR / name
    manifest = pretrained.read_manifest(folder)
    again = pretrained.check_figures(generated(name), folder)
    assert again["images"] == manifest["check"]["images"]
    for kind, mse in manifest["check"]["recon_mse"].items():
        assert again["recon_mse"][kind] == pytest.approx(mse, rel=0.01)


def test_the_faces_manifest_records_the_lectures_contrasts():
    figures = pretrained.read_manifest(SHIPPED)["figures"]
    assert figures["frechet"]["ae_over_vae"] >= 2
    assert figures["test_mse"]["ae"] <= 0.8 * figures["test_mse"]["pca"]
    assert figures["test_mse"]["vae"] <= figures["test_mse"]["pca"]
    smile = figures["smile"]["vae"]
    assert smile["gain"] >= 0.5 and smile["nearest"]["smiling"] >= 0.7


def test_the_waves_manifest_records_the_contrast_and_add_a_spike():
    figures = pretrained.read_manifest(pretrained.SHIPPED_DIR / "waves")["figures"]
    assert figures["frechet"]["ae_over_vae"] >= 2
    assert figures["test_mse"]["ae"] <= 0.8 * figures["test_mse"]["pca"]
    assert figures["test_mse"]["vae"] <= figures["test_mse"]["pca"]
    for kind in ("ae", "vae"):
        spike = figures["spike"][kind]
        assert spike["twins"] >= 0.9 and spike["before"] <= 0.05  # drawn when there, only then
        assert spike["shown"] >= 0.7 and spike["kept"] >= 0.95  # added, the trend kept


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
