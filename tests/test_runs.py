"""The runs folder: naming, listing, publishing a default pair and cleaning up after a run."""

import os
import time
from pathlib import Path

import pytest

from explorer.server import runs
from explorer.server.runs import RunInfo
from training.checkpoints import save_checkpoint
from training.config import ModelConfig
from training.models import build_model


@pytest.fixture(autouse=True)
def runs_root(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


def save_model(folder: Path, kind: str, dataset: str = "digits", latent_dim: int = 2) -> Path:
    """A small untrained model of kind saved as folder/<kind>.safetensors."""
    model = build_model(ModelConfig(kind=kind, image_shape=(1, 8, 8), latent_dim=latent_dim))
    return save_checkpoint(folder / f"{kind}.safetensors", model, dataset={"name": dataset})


def save_pair(folder: Path, **kwargs) -> dict[str, str]:
    return {kind: str(save_model(folder, kind, **kwargs)) for kind in runs.KINDS}


def test_a_run_is_titled_by_dataset_architecture_latent_size_and_date():
    created = time.mktime((2025, 3, 7, 14, 5, 0, 0, 0, -1))
    info = RunInfo("20250307-140500-ab12cd34", "faces", "conv", 32, created)
    assert info.title == "faces · conv · 32-D · 07 Mar 14:05"


def test_finished_runs_are_listed_for_their_dataset_newest_first_with_titles():
    older, newer = runs.jobs_dir() / "older", runs.jobs_dir() / "newer"
    save_pair(older)
    save_pair(newer, latent_dim=3)
    later = time.time() + 60
    for kind in runs.KINDS:  # a file's mtime dates a run
        os.utime(newer / f"{kind}.safetensors", (later, later))
    save_pair(runs.jobs_dir() / "on_faces", dataset="faces")
    save_model(runs.jobs_dir() / "lone_ae", "ae")  # unfinished: not a run
    listed = runs.trained_runs("digits")
    assert [r.id for r in listed] == ["newer", "older"]
    assert listed[0].title.startswith("digits · mlp · 3-D · ")
    assert [r.id for r in runs.trained_runs("faces")] == ["on_faces"]


def test_publishing_a_default_pair_moves_it_and_removes_the_emptied_job_folder():
    job_folder = runs.jobs_dir() / "20250101-000000-0000aaaa"
    checkpoints = save_pair(job_folder)
    runs.publish_default(checkpoints, "digits")
    assert runs.has_pair(runs.default_folder("digits"))
    assert not job_folder.exists()
    runs.publish_default(checkpoints, "digits")  # every waiting session calls it: harmless
    assert runs.has_pair(runs.default_folder("digits"))


def test_an_unfinished_run_folder_is_removed_and_a_whole_pair_never_is():
    empty, lone, whole = (runs.jobs_dir() / name for name in ("empty", "lone", "whole"))
    empty.mkdir(parents=True)
    save_model(lone, "ae")
    save_pair(whole)
    assert runs.remove_unfinished(empty) and not empty.exists()
    assert runs.remove_unfinished(lone) and not lone.exists()
    assert not runs.remove_unfinished(whole) and runs.has_pair(whole)
    assert not runs.remove_unfinished(runs.jobs_dir() / "never-there")
