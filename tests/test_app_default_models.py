"""The app's default models headless: a fresh server opens on faces with the shipped pair (no
training), and data that cannot ship shows a labelled preview pair, then swaps in the full pair
trained in the background, keeping the page and the pinned point."""

import shutil
import time

import numpy as np
import pytest
from apptest import fresh_app, open_instrument
from PIL import Image

from explorer.server import runs as run_folders
from explorer.ui import resources
from explorer.ui.sidebar import PREVIEW_LABEL
from training import pretrained
from training.data.faces import render_faces


def preview_labels(at) -> list[str]:
    """The preview's line above the page (a caption, in view on a phone)."""
    return [c.value for c in at.main.caption if c.value.startswith(PREVIEW_LABEL)]


@pytest.fixture
def fresh_runs(tmp_path, monkeypatch):
    """An empty runs folder; the server's jobs are stopped after the test."""
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path / "runs"))
    yield tmp_path / "runs"
    for job in resources.job_manager().running():
        job.cancel()
        job.join(30)


def small_image_folder(folder, n: int = 48):
    """n generated faces as 32 px PNGs: a data folder small enough to train a full conv pair
    in seconds, which nothing ships for."""
    folder.mkdir()
    attributes = np.random.default_rng(0).integers(0, 2, (n, 5))
    for i, image in enumerate(render_faces(attributes, 32, seed=3)):
        Image.fromarray(image.transpose(1, 2, 0)).save(folder / f"{i:03d}.png")
    return folder


@pytest.mark.slow
def test_a_fresh_server_opens_on_faces_with_the_shipped_pair_and_trains_nothing(
    fresh_runs, monkeypatch
):
    monkeypatch.setenv("LATENT_EXPLORER_DATASET", "")  # the app's own opening dataset
    at = fresh_app(fresh_runs, monkeypatch, timeout=120)
    at.run()
    assert not at.exception, at.exception
    assert at.query_params["dataset"] == "faces"
    installed, shipped = run_folders.default_folder("faces"), pretrained.SHIPPED_DIR / "faces"
    for name in ("ae.safetensors", "vae.safetensors"):
        assert (installed / name).read_bytes() == (shipped / name).read_bytes()
    assert resources.job_manager().states() == []  # nothing trained
    assert preview_labels(at) == []


@pytest.mark.slow
def test_a_changed_shipped_file_is_named_and_the_models_train_here_instead(
    fresh_runs, monkeypatch, tmp_path
):
    copy = tmp_path / "shipped"
    shutil.copytree(pretrained.SHIPPED_DIR, copy)
    (copy / "faces" / "ae.safetensors").write_bytes(b"not the shipped model")
    monkeypatch.setattr(pretrained, "SHIPPED_DIR", copy)
    monkeypatch.setenv("LATENT_EXPLORER_DATASET", "faces")
    at = fresh_app(fresh_runs, monkeypatch, timeout=120)
    at.run()
    warnings = [w.value.replace("\\", "") for w in at.warning]  # as shown: Markdown-escaped
    refusal = f"{copy}/faces/ae.safetensors: does not match its manifest"
    assert any(refusal in w and "Training the models here instead" in w for w in warnings)
    assert resources.default_pairs().job("faces", "preview") is not None


@pytest.mark.slow
def test_data_that_cannot_ship_shows_a_labelled_preview_then_the_full_pair(
    fresh_runs, monkeypatch, tmp_path
):
    monkeypatch.setenv("LATENT_EXPLORER_DATA", str(small_image_folder(tmp_path / "photos")))
    monkeypatch.setenv("LATENT_EXPLORER_DATASET", "folder")
    at = fresh_app(fresh_runs, monkeypatch, timeout=120)
    at.run()
    assert not at.exception
    assert any("training a preview AE and VAE" in i.value for i in at.info)  # the first wait

    pairs = resources.default_pairs()
    assert pairs.job("folder", "preview").join(120).status == "finished"
    at.query_params["point"] = "i5"
    at.run()
    assert not at.exception
    assert preview_labels(at) and "look alike until the full models" in preview_labels(at)[0]
    assert run_folders.has_pair(run_folders.default_folder("folder", "preview"))

    full = None
    for _ in range(100):  # the chain starts the full job once the preview is saved
        full = pairs.job("folder", "full")
        if full is not None:
            break
        time.sleep(0.1)  # the chain's thread, between the preview's end and the full job
    assert full is not None and full.join(300).status == "finished"
    assert full.state().arch == "conv"
    at.run()
    assert not at.exception
    assert preview_labels(at) == []
    assert at.query_params["point"] == "i5"  # the pinned point is kept
    assert run_folders.has_pair(run_folders.default_folder("folder"))


@pytest.mark.slow
def test_the_time_lapse_says_the_shipped_pair_has_none_and_how_to_get_one(fresh_runs, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_DATASET", "faces")
    at = open_instrument(fresh_app(fresh_runs, monkeypatch, timeout=120), "timelapse")
    infos = [i.value.replace("\\", "") for i in at.info]
    assert any("The shipped models come without a time-lapse" in i for i in infos), infos
    assert not any("delete" in i for i in infos)  # deleting would only bring them back


def test_the_first_use_wait_says_evaluating_and_saving_once_both_models_are_trained(
    fresh_runs, monkeypatch, tmp_path
):
    """The bars sat at 700/700 for about 14 s with no word while the pair was evaluated and
    saved: a job whose every step is done says what it is doing."""
    from types import SimpleNamespace

    state = SimpleNamespace(status="training", message="", progress={"ae": (700, 700)})
    job = SimpleNamespace(state=lambda: state)
    fake = SimpleNamespace(ensure=lambda name, stages: None, job=lambda name, stage: job)
    monkeypatch.setattr(resources, "default_pairs", lambda: fake)
    monkeypatch.setenv("LATENT_EXPLORER_DATA", str(small_image_folder(tmp_path / "photos")))
    monkeypatch.setenv("LATENT_EXPLORER_DATASET", "folder")
    at = fresh_app(fresh_runs, monkeypatch, timeout=60)
    saving = "Trained: evaluating and saving the models..."
    at.run()
    assert not at.exception
    assert saving not in [c.value for c in at.caption]  # the VAE has not started
    state.progress = {"ae": (700, 700), "vae": (350, 700)}
    at.run()
    assert saving not in [c.value for c in at.caption]
    state.progress = {"ae": (700, 700), "vae": (700, 700)}
    at.run()
    assert not at.exception
    assert saving in [c.value for c in at.caption]
