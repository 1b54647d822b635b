"""train_side_by_side: the pair trained at once on its own cores, as it would be alone."""

import threading

import pytest
import torch

from training import evaluate as evaluate_module
from training import recipe as recipe_module
from training.config import TrainConfig
from training.fit import fit
from training.models import LinearPath, build_model
from training.presets import default_model_config
from training.recipe import train_side_by_side, trains_in_parallel

CONFIG = TrainConfig(epochs=2, batch_size=64, precision="fp32")


@pytest.fixture
def two_cores(monkeypatch):
    """As on this 2-core machine, whatever the machine running the tests has."""
    monkeypatch.setattr(recipe_module.distributed, "threads_per_process", lambda: 2)


def alone(dataset, kind: str):
    """The oracle: one model trained by itself on one thread."""
    model = build_model(default_model_config(dataset.image_shape, kind), seed=CONFIG.seed)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        fit(model, dataset.pixels, CONFIG, indices=dataset.train_indices)
    finally:
        torch.set_num_threads(before)
    return model


def test_side_by_side_trains_each_model_exactly_as_alone(digits, two_cores, tmp_path):
    threads = torch.get_num_threads()
    assert trains_in_parallel(("ae", "vae"), CONFIG)
    trained = train_side_by_side(digits, ("ae", "vae"), CONFIG, tmp_path)
    assert torch.get_num_threads() == threads  # restored
    assert [e.kind for e in trained] == ["ae", "vae"]
    for entry in trained:
        expected = alone(digits, entry.kind).state_dict()
        for name, value in entry.model.state_dict().items():
            assert torch.equal(value, expected[name]), (entry.kind, name)
        assert entry.path.is_file() and entry.metrics["recon_mse"] > 0


def test_one_model_or_one_core_or_torchrun_trains_one_after_the_other(monkeypatch):
    assert not trains_in_parallel(("vae",), CONFIG)
    monkeypatch.setattr(recipe_module.distributed, "threads_per_process", lambda: 1)
    assert not trains_in_parallel(("ae", "vae"), CONFIG)
    monkeypatch.setattr(recipe_module.distributed, "threads_per_process", lambda: 8)
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert not trains_in_parallel(("ae", "vae"), CONFIG)


def test_a_cancel_stops_both_models_and_saves_nothing(digits, two_cores, tmp_path):
    cancel = threading.Event()
    seen = set()

    def on_progress(kind, progress):
        seen.add(kind)
        if seen == {"ae", "vae"}:  # both are training at once: stop them mid-run
            cancel.set()

    config = TrainConfig(epochs=50, batch_size=16, precision="fp32")
    trained = train_side_by_side(
        digits, ("ae", "vae"), config, tmp_path, on_progress=on_progress, cancel=cancel
    )
    assert seen == {"ae", "vae"}  # both were training at once
    assert all(e.result.status == "cancelled" and e.path is None for e in trained)
    assert not list(tmp_path.iterdir())


def test_an_error_in_one_model_reaches_the_caller(digits, two_cores, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(recipe_module, "save_checkpoint", broken)
    with pytest.raises(OSError, match="disk full"):
        train_side_by_side(digits, ("ae", "vae"), CONFIG, tmp_path)


def test_a_residual_pair_shares_one_pca_and_one_baseline(digits, two_cores, tmp_path, monkeypatch):
    calls = {"linear fit": 0, "pca_mse": 0}

    def counted(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(LinearPath, "fit", counted("linear fit", LinearPath.fit))
    monkeypatch.setattr(evaluate_module, "pca_mse", counted("pca_mse", evaluate_module.pca_mse))
    residual = default_model_config(digits.image_shape, "vae", "residual", 4, hidden=(16,))
    ae, vae = train_side_by_side(digits, ("ae", "vae"), CONFIG, tmp_path, residual)
    assert calls == {"linear fit": 1, "pca_mse": 1}
    assert torch.equal(ae.model.encoder.linear.basis, vae.model.encoder.linear.basis)
    assert ae.metrics["pca_mse"] == vae.metrics["pca_mse"] > 0
    alone = build_model(residual, CONFIG.seed)
    fit(alone, digits.pixels, CONFIG, indices=digits.train_indices)  # prepares its own PCA
    assert torch.equal(alone.encoder.linear.basis, vae.model.encoder.linear.basis)
