"""The "MLP vs conv vs GRU" instrument headless (AppTest) on digits: a column per coder with its
numbers, images and map, the table, and on first use the lineup trains in the background with
progress."""

import functools

import pytest
from apptest import (
    instrument_page,
    runs_subfolder,
    shows_progress_then_trains,
    train_default_digits,
)

from explorer.server import runs as runs_folder
from explorer.server import trainers
from training.data import load_dataset
from training.lineup import train_lineup

KEY = "instrument_architectures"
quick_lineup = functools.partial(train_lineup, epochs=2)  # a lineup in seconds


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Default digits models and a quick lineup beside them."""
    path = tmp_path_factory.mktemp("runs")
    train_default_digits(path)
    quick_lineup(load_dataset("digits"), runs_subfolder(path, runs_folder.lineup_folder))
    return path


def lineup_page(runs, monkeypatch):
    return instrument_page(runs, monkeypatch, "architectures")


def test_each_coder_has_a_column_with_its_numbers_images_and_map(runs, monkeypatch):
    at = lineup_page(runs, monkeypatch)
    assert [s.value for s in at.subheader] == ["MLP", "Conv", "GRU"]
    assert "row by row" in at.info[0].value  # the explanation for the class
    assert len(at.get("plotly_chart")) == 3  # a map each
    assert len(at.get("image")) == 6  # reconstructions and prior samples, each
    labels = [m.label for m in at.metric]
    assert labels == ["Test MSE", "Weights"] * 3
    assert all(m.delta.endswith("x PCA") for m in at.metric if m.label == "Test MSE")
    frame = at.dataframe[0].value
    assert list(frame["coder"]) == ["MLP", "Conv", "GRU"]
    assert any("Each VAE: 24 steps of 128 images" in c.value for c in at.caption)  # 2 epochs
    at.toggle(key=f"{KEY}_same_scale").set_value(False).run()
    assert not at.exception and len(at.get("plotly_chart")) == 3


def test_on_first_use_the_lineup_trains_in_the_background_with_progress(tmp_path, monkeypatch):
    train_default_digits(tmp_path)
    monkeypatch.setattr(trainers, "train_lineup", quick_lineup)
    at = lineup_page(tmp_path, monkeypatch)
    command = "--dataset digits --out $LATENT_EXPLORER_RUNS/default/digits/lineup`"
    intro = "training 3 VAEs, one per coder"
    shows_progress_then_trains(at, intro, command, trainers.lineup_key("digits"))
    at.run()
    assert not at.exception, at.exception
    assert [s.value for s in at.subheader] == ["MLP", "Conv", "GRU"]
    assert not (tmp_path / "default" / "digits" / "lineup.training").exists()
