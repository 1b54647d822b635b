"""The lineup of coders (training/lineup.py) trained, saved and loaded back, and what the "MLP
vs conv vs GRU" instrument measures of it (explorer/core/architectures.py), against oracles."""

import threading
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from explorer.core import architectures, beta_dial
from explorer.core.architectures import Coder, count_weights
from training import variants
from training.data import load_dataset
from training.lineup import (
    LINEUP_ARCHS,
    LINEUP_BATCH,
    check_archs,
    lineup_epochs,
    lineup_path,
    load_lineup,
    plan_lineup,
    train_lineup,
)
from training.recipe import prepared_models, recipe
from training.variants import Variant, step_seconds, time_shares


@pytest.fixture(scope="module")
def waves():
    return load_dataset("waves")


def test_lineup_path_names_the_architecture(tmp_path):
    assert lineup_path(tmp_path, "gru") == tmp_path / "vae-gru.safetensors"


@pytest.mark.parametrize(
    "archs, message",
    [((), "at least one"), (("mlp", "mlp"), "at most once"), (("mlp", "cnn"), "each one of")],
)
def test_bad_architectures_are_refused(archs, message):
    with pytest.raises(ValueError, match=message):
        check_archs(archs)


def test_lineup_epochs_give_at_least_the_budgets_steps():
    assert lineup_epochs(1617, 128, 1200) == 100  # 12 steps an epoch
    assert lineup_epochs(60_000, 128, 1200) == 3  # 468 steps an epoch: 1,404 steps
    assert lineup_epochs(50, 128, 1200) == 1200  # fewer images than a batch: one step an epoch


def test_the_plan_shares_latent_size_likelihood_beta_and_batches(digits):
    plan = plan_lineup(digits, seed=3)
    default = recipe(digits)
    assert list(plan.recipes) == list(LINEUP_ARCHS) and plan.skipped == {}
    for arch, chosen in plan.recipes.items():
        assert chosen.model.arch == arch and chosen.model.kind == "vae"
        assert chosen.model.latent_dim == default.model.latent_dim
        assert chosen.model.likelihood == default.model.likelihood
    trains = {c.train for c in plan.recipes.values()}
    assert {(t.batch_size, t.epochs, t.seed, t.beta, t.schedule) for t in trains} == {
        (LINEUP_BATCH, lineup_epochs(len(digits.train_indices)), 3, default.train.beta, "onecycle")
    }


def test_conv_is_skipped_on_waves_with_the_reason(waves):
    plan = plan_lineup(waves)
    assert list(plan.recipes) == ["mlp", "gru"]
    assert list(plan.skipped) == ["conv"] and "need images of at least 2 px" in plan.skipped["conv"]
    note = architectures.skip_note("conv", "waves", waves.image_shape, plan.skipped["conv"])
    assert note == (
        "Conv is left out on waves (1x128x1 images): 1 stride-2 layers need images of at least "
        "2 px on each side, got 128 x 1"
    )


def test_a_lineup_no_architecture_can_take_is_refused(waves, tmp_path):
    with pytest.raises(ValueError, match="no architecture takes waves's images"):
        train_lineup(waves, tmp_path, archs=("conv",), epochs=1)


def test_a_bad_epochs_is_refused_as_the_callers(digits, tmp_path):
    with pytest.raises(ValueError, match="epochs"):
        plan_lineup(digits, epochs=0)


@pytest.fixture(scope="module")
def lineup(digits, tmp_path_factory):
    folder = tmp_path_factory.mktemp("lineup")
    return folder, train_lineup(digits, folder, epochs=2)


def test_train_lineup_saves_one_vae_per_architecture_with_one_latent_size(lineup):
    folder, trained = lineup
    assert list(trained) == list(LINEUP_ARCHS)
    for arch, entry in trained.items():
        assert entry.result.status == "finished" and entry.path == lineup_path(folder, arch)
        assert entry.metrics["recon_mse"] > 0 and entry.metrics["pca_mse"] > 0
    loaded = load_lineup(folder)
    assert list(loaded) == list(LINEUP_ARCHS)
    assert {c.config.latent_dim for c in loaded.values()} == {2}
    assert len({c.metrics["pca_mse"] for c in loaded.values()}) == 1  # one PCA baseline


def test_the_vaes_differ_only_by_their_architectures_defaults(lineup):
    folder, _ = lineup
    loaded = load_lineup(folder)
    trains = {replace(c.train_config, lr=1.0) for c in loaded.values()}  # lr: each arch's own
    assert len(trains) == 1 and next(iter(trains)).epochs == 2
    assert {c.config.arch for c in loaded.values()} == set(LINEUP_ARCHS)


def test_a_cancelled_lineup_saves_nothing_more(digits, tmp_path):
    cancel = threading.Event()
    cancel.set()
    trained = train_lineup(digits, tmp_path, epochs=1, cancel=cancel)
    assert list(trained) == ["mlp"] and trained["mlp"].path is None
    assert load_lineup(tmp_path) == {}


def test_timing_a_step_changes_nothing_in_the_model(digits):
    conv = recipe(digits, arch="conv")
    model = prepared_models({"vae": conv.model}, digits, conv.train)["vae"].train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    images = torch.as_tensor(digits.pixels[:64])
    assert step_seconds(model, images, conv.train) > 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters()) and model.training


def plant_step_seconds(monkeypatch, seconds: dict[str, float]) -> None:
    """Steps of the lineup's coders take these seconds (by architecture), as if measured."""
    monkeypatch.setattr(
        variants, "step_seconds", lambda model, images, config: seconds[model.config.arch]
    )


def test_time_shares_weigh_each_variants_steps_by_its_step_time(digits, tmp_path, monkeypatch):
    plant_step_seconds(monkeypatch, {"mlp": 0.001, "conv": 0.003})
    plans = {arch: recipe(digits, arch=arch, epochs=2) for arch in ("mlp", "conv")}
    sets = {
        "alike": {a: Variant(r.model, r.train, tmp_path / a) for a, r in plans.items()},
        "conv trains twice as long": {
            a: Variant(r.model, replace(r.train, epochs=2 * r.train.epochs), tmp_path / a)
            if a == "conv"
            else Variant(r.model, r.train, tmp_path / a)
            for a, r in plans.items()
        },
    }
    models = prepared_models({a: r.model for a, r in plans.items()}, digits, plans["mlp"].train)
    assert time_shares(models, sets["alike"], digits) == pytest.approx({"mlp": 0.25, "conv": 0.75})
    assert time_shares(models, sets["conv trains twice as long"], digits) == pytest.approx(
        {"mlp": 1 / 7, "conv": 6 / 7}
    )


def test_a_lineups_progress_runs_to_1_by_the_coders_measured_shares(digits, tmp_path, monkeypatch):
    """A fast MLP first no longer counts as a third of the time (the time left undershot)."""
    plant_step_seconds(monkeypatch, {"mlp": 1.0, "conv": 2.0, "gru": 7.0})  # same steps each
    reports = []
    train_lineup(digits, tmp_path, epochs=1, on_progress=lambda *r: reports.append(r))
    fractions = [fraction for _, _, fraction in reports]
    assert fractions == sorted(fractions) and fractions[0] > 0
    ends = {arch: fraction for arch, p, fraction in reports if p.step == p.n_steps}
    assert ends == pytest.approx({"mlp": 0.1, "conv": 0.3, "gru": 1.0})


def test_count_weights_counts_parameters_not_buffers():
    model = nn.Linear(3, 2)  # 3 x 2 weights + 2 biases
    model.register_buffer("fitted", torch.zeros(100))
    assert count_weights(model) == 8


def test_measure_coder_takes_the_checkpoints_errors_and_counts_the_weights(lineup, digits):
    folder, _ = lineup
    ckpt = load_lineup(folder)["gru"]
    test = digits.test_indices
    z = beta_dial.prior_draws(16, 2)
    coder = architectures.measure_coder(
        ckpt.model, 1.0, ckpt.metrics, digits.pixels, np.arange(300), test, test[:6], z
    )
    assert coder.arch == "gru" and coder.measured.xy.shape == (300, 2)
    assert coder.measured.reconstructions.shape == (6, 1, 8, 8)
    assert coder.measured.samples.shape == (16, 1, 8, 8)
    assert coder.n_weights == sum(p.numel() for p in ckpt.model.parameters())
    assert coder.pca_ratio == pytest.approx(ckpt.metrics["recon_mse"] / ckpt.metrics["pca_mse"])


def planted(arch: str, mse: float, pca: float | None, xy: np.ndarray) -> Coder:
    images = np.zeros((1, 1, 2, 2))
    rung = beta_dial.Rung(
        1.0, xy, None, np.array([2.0, 0.5]), np.array([1.0, 0.0]), 1, mse, images, images
    )
    return Coder(arch, rung, 1000, pca)


def test_the_table_and_maps_show_every_coder_with_its_ratio_to_pca():
    coders = [
        planted("mlp", 0.02, 0.04, np.array([[0.0, 0.0], [1.0, 1.0]])),
        planted("gru", 0.06, 0.04, np.array([[-5.0, 0.0], [0.0, 3.0]])),
        planted("conv", 0.01, None, np.array([[0.0, 0.0], [1.0, 1.0]])),
    ]
    assert architectures.lineup_table(coders) == {
        "coder": ["MLP", "GRU", "Conv"],
        "weights": [1000, 1000, 1000],
        "reconstruction MSE": [0.02, 0.06, 0.01],
        "x PCA's MSE": [0.5, pytest.approx(1.5), None],
        "KL (nats)": [2.5, 2.5, 2.5],
        "active units (of 2)": [1, 1, 1],
    }
    shared = architectures.coder_map(coders, "mlp", None, (), same_scale=True)
    assert shared.layout.title.text == "MLP VAE latent space"
    assert shared.layout.xaxis.range[0] < -5 and shared.layout.yaxis.range[1] > 3  # the GRU's
    alone = architectures.coder_map(coders, "mlp", None, (), same_scale=False)
    assert alone.layout.xaxis.range is None


def test_the_cli_trains_a_lineup_and_notes_what_it_skips(tmp_path, capsys):
    from training.cli import main

    out = tmp_path / "lineup"
    args = ["lineup", "--dataset", "waves", "--epochs", "1", "--archs", "conv", "mlp"]
    assert main([*args, "--out", str(out)]) == 0
    assert [p.name for p in out.iterdir()] == ["vae-mlp.safetensors"]
    printed = capsys.readouterr().out
    assert "conv: skipped, it cannot take waves's images" in printed
    assert "mlp: trained 1 epoch in" in printed


@pytest.mark.parametrize(
    "args, message",
    [
        (["--archs", "mlp", "mlp"], "archs: each at most once"),
        (["--epochs", "0"], "epochs: must be in"),
        (["--dataset", "waves", "--archs", "conv"], "no architecture takes waves's images"),
    ],
)
def test_the_cli_refuses_bad_arguments_with_one_line(tmp_path, capsys, args, message):
    from training.cli import main

    assert main(["lineup", *args, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_the_cli_refuses_an_unknown_architecture(tmp_path, capsys):
    from training.cli import main

    with pytest.raises(SystemExit) as exit:
        main(["lineup", "--archs", "cnn", "--out", str(tmp_path)])
    assert exit.value.code == 2 and "invalid choice: 'cnn'" in capsys.readouterr().err
