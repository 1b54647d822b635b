import threading

import numpy as np
import pytest
import torch

from training.config import ModelConfig, TrainConfig
from training.fit import as_float_batch, fit, resolve_precision
from training.models import AE, VAE, build_model

SHAPE = (1, 8, 8)


def images(n=256, seed=0):
    return np.random.default_rng(seed).random((n, *SHAPE), dtype=np.float32)


def small(kind="vae", seed=0):
    return build_model(ModelConfig(kind=kind, image_shape=SHAPE, hidden=(32,)), seed=seed)


def fp32(**kwargs):
    return TrainConfig(**{"epochs": 3, "batch_size": 64, "precision": "fp32", **kwargs})


class Recording:
    """Mixin that records every batch the model is asked to reconstruct."""

    def __init__(self, config):
        super().__init__(config)
        self.seen = []

    def forward(self, x, eps=None):
        self.seen.append(x.detach().clone())
        return super().forward(x, eps)


class RecordingAE(Recording, AE):
    pass


class RecordingVAE(Recording, VAE):
    pass


def test_same_seed_gives_bit_identical_weights():
    x = images()
    a, b = small(), small()
    fit(a, x, fp32(seed=5))
    fit(b, x, fp32(seed=5))
    for wa, wb in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(wa, wb)


def test_another_seed_gives_other_weights():
    x = images()
    a, b = small(), small()
    fit(a, x, fp32(seed=5))
    fit(b, x, fp32(seed=6))
    assert not torch.equal(a.decoder.net[0].weight, b.decoder.net[0].weight)


def test_ae_and_vae_see_the_data_in_the_same_order():
    config = ModelConfig(kind="ae", image_shape=SHAPE, hidden=(16,))
    ae, vae = RecordingAE(config), RecordingVAE(ModelConfig(**{**config.__dict__, "kind": "vae"}))
    fit(ae, images(), fp32())
    fit(vae, images(), fp32())
    assert len(ae.seen) == len(vae.seen) == 3 * (256 // 64)
    assert all(torch.equal(a, v) for a, v in zip(ae.seen, vae.seen, strict=True))
    assert not torch.equal(ae.seen[0], ae.seen[4])  # reshuffled each epoch


def test_progress_reports_every_loss_term_and_counts_up_to_the_total():
    reports = []
    fit(small(), images(), fp32(), on_progress=reports.append, report_every=2)
    assert reports[-1].step == reports[-1].n_steps == 12
    assert [r.step for r in reports] == sorted(r.step for r in reports)
    assert {"recon", "kl", "total"} <= set(reports[-1].terms)
    assert reports[-1].epoch == reports[-1].n_epochs == 3


def test_history_has_one_entry_per_epoch_and_loss_falls():
    result = fit(small(), images(), fp32(epochs=20, lr=3e-3))
    assert result.status == "finished"
    assert len(result.history) == 20
    assert result.history[-1]["total"] < result.history[0]["total"]
    assert result.samples_per_s > 0


def test_cancel_from_another_thread_stops_training():
    cancel = threading.Event()
    started = threading.Event()

    def on_progress(p):
        started.set()

    model, outcome = small(), {}
    worker = threading.Thread(
        target=lambda: outcome.update(
            r=fit(
                model,
                images(4096),
                fp32(epochs=10_000),
                on_progress=on_progress,
                cancel=cancel,
                report_every=1,
            )
        )
    )
    worker.start()
    assert started.wait(30)
    cancel.set()
    worker.join(30)
    assert not worker.is_alive()
    assert outcome["r"].status == "cancelled"
    assert len(outcome["r"].history) < 10_000


def test_nan_loss_restores_the_last_good_weights_and_says_why():
    model = small()
    snapshots = []

    def poison(p):
        if p.step == 4:  # end of epoch 1: remember the good weights
            snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        if p.step == 6:  # mid epoch 2: break a weight, the next batch's loss is NaN
            with torch.no_grad():
                model.encoder.net[0].weight.fill_(float("nan"))

    result = fit(model, images(), fp32(), on_progress=poison, report_every=1)
    assert result.status == "diverged"
    assert "learning rate" in result.message and "epoch 1" in result.message
    assert len(result.history) == 1
    for key, value in model.state_dict().items():
        assert torch.equal(value, snapshots[0][key]), key
        assert torch.isfinite(value).all()


def test_a_huge_learning_rate_diverges_and_restores_the_weights_from_before_training():
    model = build_model(
        ModelConfig(kind="vae", image_shape=SHAPE, hidden=(32,), likelihood="gaussian")
    )
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = fit(model, images(), fp32(epochs=50, lr=10.0))
    assert result.status == "diverged" and result.history == []  # nan within the first epoch
    assert "became nan" in result.message and "Try a lower learning rate" in result.message
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_denoising_trains_on_noisy_inputs_within_range():
    model = RecordingAE(ModelConfig(kind="ae", image_shape=SHAPE, hidden=(16,)))
    x = images()
    fit(model, x, fp32(epochs=1, noise_std=0.5))
    clean = torch.as_tensor(x).flatten(1)
    seen = model.seen[0].flatten(1)
    assert seen.min() >= 0 and seen.max() <= 1
    # every noisy input differs from every clean image
    assert torch.cdist(seen, clean).min() > 0.5


def test_sparsity_shrinks_the_codes():
    x = images(512)
    plain, sparse = small("ae"), small("ae")
    fit(plain, x, fp32(epochs=30))
    result = fit(sparse, x, fp32(epochs=30, sparsity=1.0))
    assert "l1" in result.history[-1]
    with torch.no_grad():
        l1 = [m.encode(torch.as_tensor(x)).abs().sum(1).mean().item() for m in (plain, sparse)]
    assert l1[1] < 0.5 * l1[0]


def test_binarize_feeds_zeros_and_ones():
    model = RecordingVAE(ModelConfig(kind="vae", image_shape=SHAPE, hidden=(16,)))
    fit(model, images(), fp32(epochs=1, binarize=True))
    assert set(torch.unique(model.seen[0]).tolist()) == {0.0, 1.0}


@pytest.mark.parametrize(("native", "expected"), [(True, "bf16"), (False, "fp32")])
def test_auto_precision_uses_bf16_only_on_cpus_that_have_it(monkeypatch, native, expected):
    monkeypatch.setattr("training.fit.cpu_has_native_bf16", lambda: native)
    big = build_model(ModelConfig(image_shape=(1, 28, 28), hidden=(512,)))
    assert resolve_precision("auto", torch.device("cpu"), big) == expected
    assert resolve_precision("fp32", torch.device("cpu"), big) == "fp32"


def test_auto_precision_keeps_small_models_in_fp32(monkeypatch):
    monkeypatch.setattr("training.fit.cpu_has_native_bf16", lambda: True)
    assert resolve_precision("auto", torch.device("cpu"), small()) == "fp32"
    assert resolve_precision("bf16", torch.device("cpu"), small()) == "bf16"


def test_bf16_training_reaches_a_similar_loss():
    x = images(512)
    losses = []
    for precision in ("fp32", "bf16"):
        result = fit(small(), x, fp32(epochs=10, precision=precision))
        losses.append(result.history[-1]["total"])
    assert losses[1] == pytest.approx(losses[0], rel=0.05)


def test_fewer_images_than_a_batch_still_trains():
    result = fit(small(), images(10), fp32(batch_size=64))
    assert result.status == "finished" and len(result.history) == 3


def test_as_float_batch_scales_uint8_pixels_and_keeps_floats():
    cpu = torch.device("cpu")
    pixels = torch.tensor([0, 51, 128, 255], dtype=torch.uint8)
    x = as_float_batch(pixels, cpu)
    assert x.dtype == torch.float32
    assert torch.equal(x, torch.from_numpy(pixels.numpy() / np.float32(255)))
    floats = torch.tensor([0.0, 0.25, 1.0], dtype=torch.float64)
    assert torch.equal(as_float_batch(floats, cpu), floats.float())


def test_uint8_pixels_train_exactly_like_their_floats():
    pixels = np.random.default_rng(0).integers(0, 256, (256, *SHAPE), dtype=np.uint8)
    a, b = small(), small()
    fit(a, pixels, fp32())
    fit(b, pixels / np.float32(255), fp32())
    for wa, wb in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(wa, wb)


def test_indices_train_only_on_those_images():
    x = images(300)
    rows = np.arange(0, 300, 2)
    poisoned = x.copy()
    poisoned[1::2] = np.nan  # every image outside the indices
    model = RecordingAE(ModelConfig(kind="ae", image_shape=SHAPE, hidden=(16,)))
    result = fit(model, poisoned, fp32(), indices=rows)
    assert result.status == "finished"
    assert all(torch.isfinite(p).all() for p in model.parameters())
    seen = torch.cat(model.seen).flatten(1)
    assert len(seen) == 3 * (150 // 64) * 64 and torch.isfinite(seen).all()
    # The same batches as training on a copy of those rows: the indices only pick them.
    copy = small("ae")
    fit(copy, x[rows], fp32())
    again = small("ae")
    fit(again, x, fp32(), indices=rows)
    for wa, wb in zip(copy.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(wa, wb)
