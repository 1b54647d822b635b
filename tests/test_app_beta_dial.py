"""The beta dial headless (AppTest) on digits: it renders, moving it changes the map and the
table's marked row, and on first use the ladder trains in the background with progress."""

import json
from dataclasses import replace

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
from training.ladder import DEFAULT_BETAS, train_ladder
from training.recipe import recipe

KEY = "instrument_beta_dial"


def quick_recipe(dataset, **overrides):
    """The default recipe with 2 epochs: a ladder in seconds."""
    chosen = recipe(dataset, **overrides)
    return replace(chosen, train=replace(chosen.train, epochs=2))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Default digits models and a quick ladder beside them."""
    path = tmp_path_factory.mktemp("runs")
    train_default_digits(path)
    folder = runs_subfolder(path, runs_folder.ladder_folder)
    digits = load_dataset("digits")
    quick = quick_recipe(digits)
    train_ladder(digits, DEFAULT_BETAS, quick.train, folder, quick.model)
    return path


def dial_page(runs, monkeypatch):
    return instrument_page(runs, monkeypatch, "beta_dial")


def map_spec(at) -> dict:
    """The dial's map as the page sent it (the figure's JSON)."""
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    return next(s for s in specs if s["layout"]["title"]["text"].startswith("VAE latent"))


def marked_beta(at) -> float:
    frame = at.dataframe[0].value
    return float(frame.loc[frame["dial"] == "▶", "beta"].item())


def test_the_dial_shows_map_images_kl_bars_and_table_for_beta_1(runs, monkeypatch):
    at = dial_page(runs, monkeypatch)
    dial = at.select_slider(key=f"{KEY}_beta")
    assert dial.value == 1.0
    assert list(dial.options) == ["0 (an AE with noise)", "0.1", "1 (the ELBO)", "4"]
    assert len(at.get("plotly_chart")) == 2  # the map and the KL bars
    assert len(at.get("image")) == 2  # reconstructions, prior samples
    assert map_spec(at)["layout"]["title"]["text"] == "VAE latent space, beta = 1"
    frame = at.dataframe[0].value
    assert list(frame["beta"]) == [0.0, 0.1, 1.0, 4.0] and marked_beta(at) == 1.0
    assert list(frame.columns) == [
        "dial",
        "beta",
        "reconstruction MSE",
        "KL (nats)",
        "active units (of 2)",
    ]


def test_moving_the_dial_changes_the_map_and_the_marked_row(runs, monkeypatch):
    at = dial_page(runs, monkeypatch)
    before = map_spec(at)
    at.select_slider(key=f"{KEY}_beta").set_value(4.0).run()
    assert not at.exception, at.exception
    after = map_spec(at)
    assert after["layout"]["title"]["text"] == "VAE latent space, beta = 4"
    assert after["data"][0]["x"] != before["data"][0]["x"]
    assert marked_beta(at) == 4.0
    at.select_slider(key=f"{KEY}_beta").set_value(0.0).run()
    assert marked_beta(at) == 0.0 and not at.exception


def test_on_first_use_the_ladder_trains_in_the_background_with_progress(tmp_path, monkeypatch):
    train_default_digits(tmp_path)
    monkeypatch.setattr(trainers, "recipe", quick_recipe)
    at = dial_page(tmp_path, monkeypatch)
    command = "--dataset digits --out $LATENT_EXPLORER_RUNS/default/digits/ladder`"
    shows_progress_then_trains(at, "training 4 VAEs", command, trainers.ladder_key("digits"))
    at.run()
    assert not at.exception, at.exception
    assert at.select_slider(key=f"{KEY}_beta").value == 1.0
    assert not (tmp_path / "default" / "digits" / "ladder.training").exists()
