"""The defaults a user gets without options: the best recipe measured for each dataset."""

import math

import numpy as np
import pytest

from benchmarks import quality
from training.cli import build_parser
from training.config import ModelConfig, TrainConfig
from training.data import Dataset
from training.data.dataset import seeded_test_mask
from training.fit import make_optimizer, make_schedule
from training.models import build_model
from training.presets import CONV_BETA, CONV_STEPS, RESIDUAL_HIDDEN, default_model_config
from training.recipe import has_preview, recipe


def dataset(name: str, shape: tuple[int, int, int], n: int = 1000) -> Dataset:
    pixels = np.zeros((n, *shape), np.uint8)
    return Dataset(name, pixels, seeded_test_mask(n), description="synthetic")


def recipe_of(data: Dataset, **choices) -> tuple[ModelConfig, TrainConfig]:
    chosen = recipe(data, **choices)
    return chosen.model, chosen.train


# What recipe() made of these datasets when it returned (TrainConfig, options) and the models
# were built from the options afterwards: the same numbers now that it builds both configs.
PINNED = [
    (("digits", (1, 8, 8), 1797), {},
     ModelConfig("vae", "mlp", (1, 8, 8), 2, (256,), (16,), "bernoulli"),
     TrainConfig(epochs=100, batch_size=128, lr=3e-3)),
    (("mnist", (1, 28, 28), 70_000), {},
     ModelConfig("vae", "mlp", (1, 28, 28), 2, (512, 512), (16, 32), "bernoulli"),
     TrainConfig(epochs=40, batch_size=128, lr=1e-3, binarize=True, schedule="onecycle")),
    (("faces", (3, 64, 64), 20_000), {},
     ModelConfig("vae", "conv", (3, 64, 64), 32, (512,), (16, 32, 64, 128), "calibrated"),
     TrainConfig(epochs=40, batch_size=128, lr=2e-3, beta=16.0, schedule="onecycle")),
    (("faces", (3, 64, 64), 20_000), {"stage": "preview"},
     ModelConfig("vae", "residual", (3, 64, 64), 32, (128,), (16, 32, 64, 128), "calibrated"),
     TrainConfig(epochs=5, batch_size=128, lr=2e-3, schedule="onecycle")),
    (("celeba", (3, 64, 64), 10_000), {},
     ModelConfig("vae", "conv", (3, 64, 64), 32, (512,), (16, 32, 64, 128), "calibrated"),
     TrainConfig(epochs=58, batch_size=128, lr=2e-3, beta=16.0, schedule="onecycle")),
    (("mnist", (1, 28, 28), 70_000), {"hidden": (64,), "likelihood": "gaussian", "epochs": 3},
     ModelConfig("vae", "mlp", (1, 28, 28), 2, (64,), (16, 32), "gaussian"),
     TrainConfig(epochs=3, batch_size=128, lr=1e-3, binarize=True, schedule="onecycle")),
    (("fashion-mnist", (1, 28, 28), 70_000), {"arch": "conv", "latent_dim": 5, "beta": 2.0},
     ModelConfig("vae", "conv", (1, 28, 28), 5, (512,), (16, 32), "calibrated"),
     TrainConfig(epochs=9, batch_size=128, lr=2e-3, beta=2.0, schedule="onecycle")),
    (("waves", (1, 128, 1), 10_000), {},
     ModelConfig("vae", "gru", (1, 128, 1), 8, (128,), (16,), "calibrated", rows_per_step=16),
     TrainConfig(epochs=100, batch_size=128, lr=5e-3, schedule="onecycle")),
    (("waves", (1, 128, 1), 10_000), {"arch": "mlp"},
     ModelConfig("vae", "mlp", (1, 128, 1), 8, (256,), (16,), "calibrated"),
     TrainConfig(epochs=100, batch_size=128, lr=5e-3, schedule="onecycle")),
]  # fmt: skip


@pytest.mark.parametrize("data, choices, model, config", PINNED)
def test_each_recipe_makes_the_numbers_it_always_made(data, choices, model, config):
    assert recipe_of(dataset(*data), **choices) == (model, config)


def test_mnist_defaults_are_the_published_binarized_mnist_recipe():
    model, config = recipe_of(dataset("mnist", (1, 28, 28)))
    assert (model.arch, model.latent_dim, model.hidden, model.likelihood) == (
        "mlp",
        2,
        (512, 512),
        "bernoulli",
    )
    assert (config.batch_size, config.lr, config.binarize) == (128, 1e-3, True)


def test_the_quality_benchmark_measures_the_defaults_not_a_recipe_of_its_own():
    mnist = dataset("mnist", (1, 28, 28))
    assert quality.default_recipe(mnist) == recipe(mnist)


def test_large_colour_images_get_full_conv_coders_with_a_stronger_kl():
    celeba = dataset("celeba", (3, 64, 64), n=10_000)
    model, config = recipe_of(celeba)
    assert model.arch == "conv" and model.likelihood == "calibrated"
    assert config.schedule == "onecycle" and config.batch_size == 128
    steps_per_epoch = len(celeba.train_indices) // 128
    assert config.beta == CONV_BETA and config.epochs == math.ceil(CONV_STEPS / steps_per_epoch)
    assert model.latent_dim == 32


def test_faces_get_the_shipped_pairs_recipe():
    model, config = recipe_of(dataset("faces", (3, 64, 64), n=20_000))
    assert (model.arch, config.epochs, config.beta) == ("conv", 40, CONV_BETA)


def test_their_preview_is_the_residual_coders():
    model, config = recipe_of(dataset("faces", (3, 64, 64), n=20_000), stage="preview")
    assert model.arch == "residual" and model.likelihood == "calibrated"
    assert config.schedule == "onecycle" and config.beta == 1.0
    assert model.hidden == RESIDUAL_HIDDEN and model.latent_dim == 32


def test_a_dataset_has_a_preview_only_where_it_is_quicker_than_its_full_pair():
    assert has_preview(dataset("celeba", (3, 64, 64)))
    assert has_preview(dataset("mnist", (1, 28, 28)))  # the published recipe: 40 epochs
    assert not has_preview(dataset("digits", (1, 8, 8)))
    assert not has_preview(dataset("fashion-mnist", (1, 28, 28)))


def test_the_users_beta_wins_over_the_conv_default():
    assert recipe(dataset("faces", (3, 64, 64)), beta=1.0).train.beta == 1.0
    assert recipe(dataset("faces", (3, 64, 64)), beta=None).train.beta == CONV_BETA


def test_signals_get_gru_coders_reading_frames_of_16_steps_where_16_divides_them():
    model, _ = recipe_of(dataset("anything", (1, 128, 1)))
    assert (model.arch, model.rows_per_step, model.latent_dim) == ("gru", 16, 8)
    assert recipe_of(dataset("anything", (1, 100, 1)))[0].rows_per_step == 1
    assert recipe_of(dataset("anything", (1, 128, 1)), arch="lstm")[0].rows_per_step == 16
    assert recipe_of(dataset("anything", (1, 28, 28)), arch="gru")[0].rows_per_step == 1


def test_small_grey_images_keep_the_mlp_and_a_constant_rate():
    model, config = recipe_of(dataset("digits", (1, 8, 8)))
    assert model.arch == "mlp" and model.likelihood == "bernoulli"
    assert config.schedule == "constant" and not config.binarize


def test_what_the_user_chooses_wins_over_the_dataset_recipe():
    model, config = recipe_of(
        dataset("mnist", (1, 28, 28)), hidden=(64,), likelihood="gaussian", binarize=False, lr=None
    )
    assert model.hidden == (64,) and model.likelihood == "gaussian"
    assert config.binarize is False and config.lr == 1e-3  # None: not chosen


def test_cli_leaves_binarize_and_the_likelihood_to_the_recipe_unless_given():
    parse = build_parser().parse_args
    args = parse(["fit", "--out", "x"])
    assert args.binarize is None and args.likelihood is None and args.schedule is None
    assert parse(["fit", "--out", "x", "--no-binarize"]).binarize is False
    assert parse(["fit", "--out", "x", "--binarize"]).binarize is True


def test_onecycle_warms_up_to_the_rate_then_decays_to_almost_zero():
    model = build_model(default_model_config((1, 8, 8), "ae"))
    config = TrainConfig(lr=2e-3, schedule="onecycle")
    optimizer = make_optimizer(model, config.lr)
    schedule = make_schedule(optimizer, config, n_steps=100)
    rates = []
    for _ in range(100):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[0] < 0.1 * config.lr
    assert max(rates) == pytest.approx(config.lr) and int(np.argmax(rates)) in range(13, 17)
    assert rates[-1] < 1e-3 * config.lr
    assert make_schedule(optimizer, TrainConfig(), n_steps=100) is None  # constant


def test_the_schedule_is_checked():
    with pytest.raises(ValueError, match="schedule"):
        TrainConfig(schedule="cosine")
