"""A small trained model pair on digits, for the instruments' tests (shared, so that every
module measures the same models)."""

from explorer.core.model_pair import ModelPair, build_pair
from training.config import ModelConfig, TrainConfig
from training.data import Dataset
from training.fit import fit
from training.models import build_model


def small_digits_pair(digits: Dataset) -> ModelPair:
    """An AE and a VAE (64 hidden units, 30 epochs) on the digits' train split, 500 points."""
    models = []
    for kind in ("ae", "vae"):
        model = build_model(ModelConfig(kind=kind, image_shape=digits.image_shape, hidden=(64,)))
        fit(model, digits.pixels, TrainConfig(epochs=30, batch_size=128, precision="fp32"),
            indices=digits.train_indices)  # fmt: skip
        models.append(model)
    return build_pair(digits, *models, "test", max_points=500)
