"""The beta dial's numbers against oracles (the training loss's KL, hand-computed values, a
planted model with dead dimensions) and the ladder trained, saved and loaded back."""

import math
import threading

import numpy as np
import pytest
import torch

from explorer.core import beta_dial
from explorer.core.beta_dial import active_units, kl_per_dimension, unit_variances
from explorer.core.posterior import posterior_distribution
from training.checkpoints import load_checkpoint
from training.config import TrainConfig
from training.ladder import check_betas, has_ladder, ladder_path, load_ladder, train_ladder
from training.losses import kl_divergence
from training.models import build_model
from training.presets import default_model_config


def test_kl_per_dimension_sums_to_the_training_losss_mean_kl():
    rng = np.random.default_rng(0)
    mu, logvar = rng.normal(size=(50, 6)), rng.normal(scale=0.7, size=(50, 6))
    expected = kl_divergence(torch.from_numpy(mu), torch.from_numpy(logvar)).mean().item()
    assert kl_per_dimension(mu, logvar).shape == (6,)
    assert kl_per_dimension(mu, logvar).sum() == pytest.approx(expected, rel=1e-12)


def test_kl_per_dimension_matches_hand_computed_values():
    # dim 1: mu = 1, var = 1 -> 1/2 mu^2 = 0.5; dim 2: mu = 0, var = 2 -> (2 - 1 - ln 2) / 2
    mu, logvar = np.array([[1.0, 0.0]]), np.array([[0.0, math.log(2)]])
    assert kl_per_dimension(mu, logvar) == pytest.approx([0.5, (1 - math.log(2)) / 2])
    assert kl_per_dimension(np.zeros((3, 4)), np.zeros((3, 4))) == pytest.approx(np.zeros(4))


def test_active_units_counts_dimensions_whose_mean_varies_more_than_the_threshold():
    mu = np.array([[0.0, 5.0, 0.0], [1.0, 5.0, 0.25], [2.0, 5.0, 0.0], [3.0, 5.0, 0.25]])
    assert unit_variances(mu).tolist() == [1.25, 0.0, 0.015625]  # over the data, ddof 0
    assert active_units(mu) == 2
    assert active_units(mu, threshold=0.015625) == 1  # above the threshold, not at it
    assert active_units(mu, threshold=0.0) == 2  # a constant mean is never active


def test_a_planted_vae_whose_mean_ignores_the_input_has_exactly_those_units_inactive(digits):
    config = default_model_config(digits.image_shape, "vae", latent_dim=5)
    model = build_model(config, seed=0)
    last = model.encoder.net[-1]  # outputs (mu, logvar), mu first
    with torch.no_grad():
        last.weight[[0, 2, 4]] *= 20  # mu_0, mu_2, mu_4 follow the image strongly
        last.weight[[1, 3]] = 0.0  # mu_1 and mu_3 = their bias, whatever the image
        last.bias[[1, 3]] = torch.tensor([0.7, -2.0])
    mu, logvar = posterior_distribution(model, digits.pixels, digits.test_indices)
    variances = unit_variances(mu)
    assert variances[[1, 3]] == pytest.approx([0.0, 0.0], abs=1e-12)
    assert (variances[[0, 2, 4]] > beta_dial.ACTIVE_THRESHOLD).all()
    assert active_units(mu) == 3


@pytest.mark.parametrize(
    "mu, logvar, message",
    [
        (np.zeros(3), np.zeros(3), "expected \\(N, K\\)"),
        (np.zeros((0, 2)), np.zeros((0, 2)), "expected \\(N, K\\)"),
        (np.array([[np.nan, 0.0]]), np.zeros((1, 2)), "NaN"),
        (np.zeros((2, 2)), np.full((2, 2), np.inf), "logvar: holds NaN"),
        (np.zeros((2, 2)), np.zeros((2, 3)), "one shape"),
    ],
)
def test_bad_codes_are_refused_with_a_message(mu, logvar, message):
    with pytest.raises(ValueError, match=message):
        kl_per_dimension(mu, logvar)


def test_a_negative_threshold_is_refused():
    with pytest.raises(ValueError, match="threshold"):
        active_units(np.zeros((2, 2)), threshold=-1)


def test_measured_subset_is_seeded_sorted_and_keeps_small_sets_whole():
    indices = np.arange(100, 5100)
    chosen = beta_dial.measured_subset(indices, 300, seed=1)
    assert len(chosen) == 300 and np.all(np.diff(chosen) > 0) and np.isin(chosen, indices).all()
    assert np.array_equal(chosen, beta_dial.measured_subset(indices, 300, seed=1))
    assert np.array_equal(beta_dial.measured_subset(indices[:10], 300), indices[:10])


def test_ladder_table_lists_every_rung_with_its_numbers():
    images = np.zeros((1, 1, 2, 2))

    def rung(beta, kl, mse):
        kl_per_dim, variance = np.array([kl, 0.0]), np.array([1.0, 0.0])
        return beta_dial.Rung(
            beta, np.zeros((3, 2)), None, kl_per_dim, variance, 1, mse, images, images
        )

    rungs = [rung(0.0, 9.0, 0.01), rung(4.0, 0.5, 0.07)]
    assert beta_dial.ladder_table(rungs) == {
        "beta": [0.0, 4.0],
        "reconstruction MSE": [0.01, 0.07],
        "KL (nats)": [9.0, 0.5],
        "active units (of 2)": [1, 1],
    }
    bars = beta_dial.kl_bars(rungs[0])
    assert list(bars.data[0].x) == ["z1", "z2"] and bars.data[0].marker.color[1] == "#bbbbbb"


@pytest.mark.parametrize(
    "betas, message", [((), "at least one"), ((1, 1.0), "at most once"), ((0, -1), "beta")]
)
def test_bad_betas_are_refused(betas, message):
    with pytest.raises(ValueError, match=message):
        check_betas(betas)


def test_ladder_path_writes_beta_shortest(tmp_path):
    assert ladder_path(tmp_path, 0.0).name == "vae-beta-0.safetensors"
    assert ladder_path(tmp_path, 0.1).name == "vae-beta-0.1.safetensors"
    assert ladder_path(tmp_path, 4.0).name == "vae-beta-4.safetensors"


@pytest.fixture(scope="module")
def ladder(digits, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ladder")
    config = TrainConfig(epochs=2, batch_size=128, lr=3e-3, precision="fp32")
    return folder, train_ladder(digits, (4, 0, 1, 0.1), config, folder)


def test_train_ladder_saves_one_loadable_vae_per_beta_with_its_beta(ladder):
    folder, trained = ladder
    assert list(trained) == [0.0, 0.1, 1.0, 4.0]  # sorted
    assert has_ladder(folder)
    for beta, entry in trained.items():
        assert entry.result.status == "finished" and entry.path == ladder_path(folder, beta)
        ckpt = load_checkpoint(entry.path)
        assert ckpt.config.kind == "vae" and ckpt.train_config.beta == beta
        assert ckpt.train_config.epochs == 2 and ckpt.metrics["recon_mse"] > 0
    loaded = load_ladder(folder)
    assert list(loaded) == [0.0, 0.1, 1.0, 4.0]


def test_the_rungs_differ_only_by_beta(ladder):
    folder, _ = ladder
    configs = [c.train_config for c in load_ladder(folder).values()]
    assert len({TrainConfig(**{**c.__dict__, "beta": 1.0}) for c in configs}) == 1
    assert len({c.config for c in load_ladder(folder).values()}) == 1


def test_a_cancelled_ladder_saves_nothing_more(digits, tmp_path):
    cancel = threading.Event()
    cancel.set()
    config = TrainConfig(epochs=1, batch_size=128, precision="fp32")
    trained = train_ladder(digits, (0, 1), config, tmp_path, cancel=cancel)
    assert list(trained) == [0.0] and trained[0.0].path is None
    assert load_ladder(tmp_path) == {}


def test_measure_rung_shows_the_map_numbers_reconstructions_and_samples(ladder, digits):
    folder, _ = ladder
    ckpt = load_ladder(folder)[1.0]
    test = digits.test_indices
    z = beta_dial.prior_draws(16, 2)
    rung = beta_dial.measure_rung(ckpt.model, 1.0, digits.pixels, np.arange(300), test, test[:8], z)
    assert rung.beta == 1.0 and rung.xy.shape == (300, 2)
    assert rung.reconstructions.shape == (8, 1, 8, 8) and rung.samples.shape == (16, 1, 8, 8)
    mu, logvar = posterior_distribution(ckpt.model, digits.pixels, test)
    assert rung.kl == pytest.approx(kl_per_dimension(mu, logvar).sum())
    assert rung.active == active_units(mu)
    assert rung.recon_mse == pytest.approx(ckpt.metrics["recon_mse"], rel=1e-5)
    given = beta_dial.measure_rung(
        ckpt.model, 1.0, digits.pixels, np.arange(9), test, test[:1], z, recon_mse=0.5
    )
    assert given.recon_mse == 0.5  # taken as it is, from the checkpoint's metrics


def test_the_cli_trains_a_ladder_and_refuses_bad_betas(tmp_path, capsys):
    from training.cli import main

    out = tmp_path / "ladder"
    assert (
        main(
            [
                "ladder",
                "--dataset",
                "digits",
                "--epochs",
                "1",
                "--betas",
                "0",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "vae-beta-0.safetensors",
        "vae-beta-1.safetensors",
    ]
    assert "beta=1: trained 1 epoch in" in capsys.readouterr().out
    assert main(["ladder", "--betas", "1", "1", "--out", str(out)]) == 2
    assert "betas: each at most once" in capsys.readouterr().err
