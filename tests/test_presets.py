"""The defaults a user gets without options: the best recipe measured for each dataset."""

import math

import numpy as np
import pytest

from benchmarks import quality
from training.cli import build_parser
from training.config import TrainConfig
from training.data import Dataset
from training.data.dataset import seeded_test_mask
from training.fit import make_optimizer, make_schedule
from training.models import build_model
from training.presets import CONV_BETA, CONV_STEPS, RESIDUAL_HIDDEN, default_model_config
from training.recipe import has_preview, recipe


def dataset(name: str, shape: tuple[int, int, int], n: int = 1000) -> Dataset:
    pixels = np.zeros((n, *shape), np.uint8)
    return Dataset(name, pixels, seeded_test_mask(n), description="synthetic")


def test_mnist_defaults_are_the_published_binarized_mnist_recipe():
    config, options = recipe(dataset("mnist", (1, 28, 28)))
    assert options == {"arch": "mlp", "latent_dim": 2, "hidden": (512, 512),
                       "likelihood": "bernoulli"}  # fmt: skip
    assert (config.batch_size, config.lr, config.binarize) == (128, 1e-3, True)


def test_the_quality_benchmark_measures_the_defaults_not_a_recipe_of_its_own():
    mnist = dataset("mnist", (1, 28, 28))
    assert quality.default_recipe(mnist) == recipe(mnist)


def test_large_colour_images_get_full_conv_coders_with_a_stronger_kl():
    celeba = dataset("celeba", (3, 64, 64), n=10_000)
    config, options = recipe(celeba)
    assert options["arch"] == "conv" and options["likelihood"] == "calibrated"
    assert config.schedule == "onecycle" and config.batch_size == 128
    steps_per_epoch = len(celeba.train_indices) // 128
    assert config.beta == CONV_BETA and config.epochs == math.ceil(CONV_STEPS / steps_per_epoch)
    assert options["latent_dim"] == 32


def test_faces_get_the_shipped_pairs_recipe():
    config, options = recipe(dataset("faces", (3, 64, 64), n=20_000))
    assert (options["arch"], config.epochs, config.beta) == ("conv", 40, CONV_BETA)


def test_their_preview_is_the_residual_coders():
    config, options = recipe(dataset("faces", (3, 64, 64), n=20_000), stage="preview")
    assert options["arch"] == "residual" and options["likelihood"] == "calibrated"
    assert config.schedule == "onecycle" and config.beta == 1.0
    model_config = default_model_config((3, 64, 64), "vae", **options)
    assert model_config.hidden == RESIDUAL_HIDDEN and model_config.latent_dim == 32


def test_a_dataset_has_a_preview_only_where_it_is_quicker_than_its_full_pair():
    assert has_preview(dataset("celeba", (3, 64, 64)))
    assert has_preview(dataset("mnist", (1, 28, 28)))  # the published recipe: 40 epochs
    assert not has_preview(dataset("digits", (1, 8, 8)))
    assert not has_preview(dataset("fashion-mnist", (1, 28, 28)))


def test_the_users_beta_wins_over_the_conv_default():
    config, _ = recipe(dataset("faces", (3, 64, 64)), beta=1.0)
    assert config.beta == 1.0
    config, _ = recipe(dataset("faces", (3, 64, 64)), beta=None)
    assert config.beta == CONV_BETA


def test_small_grey_images_keep_the_mlp_and_a_constant_rate():
    config, options = recipe(dataset("digits", (1, 8, 8)))
    assert options["arch"] == "mlp" and options["likelihood"] == "bernoulli"
    assert config.schedule == "constant" and not config.binarize


def test_what_the_user_chooses_wins_over_the_dataset_recipe():
    config, options = recipe(
        dataset("mnist", (1, 28, 28)), hidden=(64,), likelihood="gaussian", binarize=False, lr=None
    )
    assert options["hidden"] == (64,) and options["likelihood"] == "gaussian"
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
