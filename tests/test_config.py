import pytest

from training.config import ModelConfig, TrainConfig, config_from_dict, config_to_dict


@pytest.mark.parametrize(
    ("cls", "kwargs", "field"),
    [
        (ModelConfig, {"kind": "gan"}, "kind"),
        (ModelConfig, {"arch": "transformer"}, "arch"),
        (ModelConfig, {"latent_dim": 0}, "latent_dim"),
        (ModelConfig, {"image_shape": (1, 0, 8)}, "image_shape"),
        (
            ModelConfig,
            {"arch": "conv", "image_shape": (1, 8, 8), "channels": (8, 8, 8, 8)},
            "channels",
        ),
        (ModelConfig, {"likelihood": "laplace"}, "likelihood"),
        (ModelConfig, {"arch": "lstm", "hidden": (64, 64)}, "hidden"),
        (TrainConfig, {"epochs": 0}, "epochs"),
        (TrainConfig, {"lr": -1.0}, "lr"),
        (TrainConfig, {"beta": -0.1}, "beta"),
        (TrainConfig, {"noise_std": -1.0}, "noise_std"),
        (TrainConfig, {"precision": "fp8"}, "precision"),
    ],
)
def test_bad_values_raise_an_error_naming_the_field(cls, kwargs, field):
    with pytest.raises(ValueError, match=f"^{field}:"):
        cls(**kwargs)


def test_configs_round_trip_through_plain_dicts():
    model = ModelConfig(kind="ae", arch="conv", image_shape=(3, 64, 64), latent_dim=16)
    train = TrainConfig(epochs=3, beta=4.0, noise_std=0.3)
    assert config_from_dict(ModelConfig, config_to_dict(model)) == model
    assert config_from_dict(TrainConfig, config_to_dict(train)) == train


def test_unknown_fields_are_refused():
    with pytest.raises(ValueError, match="unknown fields"):
        config_from_dict(TrainConfig, {"epochs": 1, "exec": "rm -rf /"})


def test_configs_are_frozen():
    with pytest.raises(AttributeError):
        TrainConfig().epochs = 5
