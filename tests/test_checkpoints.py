import json
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch

from training.checkpoints import (
    FORMAT_VERSION,
    METADATA_KEY,
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from training.config import ModelConfig, TrainConfig
from training.data import load_dataset
from training.fit import fit
from training.models import build_model

CONFIG = ModelConfig(
    kind="vae", arch="conv", image_shape=(3, 16, 16), channels=(8, 16), latent_dim=4
)


@pytest.fixture
def saved(tmp_path):
    model = build_model(CONFIG, seed=1)
    path = save_checkpoint(
        tmp_path / "vae.safetensors",
        model,
        TrainConfig(epochs=2),
        {"name": "faces", "fingerprint": "abc"},
        {"recon_mse": 0.01},
        [{"recon": 1.0, "kl": 2.0, "total": 3.0}],
    )
    return model, path


def rewrite_metadata(path: Path, change) -> Path:
    tensors = safetensors.torch.load_file(path)
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        meta = json.loads(json.loads(f.read(n))["__metadata__"][METADATA_KEY])
    change(meta)
    out = path.with_name("edited.safetensors")
    safetensors.torch.save_file(tensors, out, metadata={METADATA_KEY: json.dumps(meta)})
    return out


def test_round_trip_is_bit_identical(saved):
    model, path = saved
    ckpt = load_checkpoint(path)
    for (key, want), got in zip(
        model.state_dict().items(), ckpt.model.state_dict().values(), strict=True
    ):
        assert got.dtype == want.dtype
        assert torch.equal(got, want), key
    assert ckpt.config == CONFIG
    assert ckpt.train_config == TrainConfig(epochs=2)
    assert ckpt.dataset["name"] == "faces"
    assert ckpt.metrics == {"recon_mse": 0.01}
    assert ckpt.history[0]["kl"] == 2.0
    assert ckpt.versions["torch"] == torch.__version__
    x = torch.rand(2, 3, 16, 16)
    assert torch.equal(
        ckpt.model.decode(ckpt.model.encode(x)), model.eval().decode(model.encode(x))
    )


def test_a_trained_model_with_its_dataset_round_trips(tmp_path):
    data = load_dataset("digits")
    model = build_model(ModelConfig(kind="ae", image_shape=data.image_shape, hidden=(32,)))
    config = TrainConfig(epochs=2, precision="fp32")
    result = fit(model, data.pixels, config)
    path = save_checkpoint(tmp_path / "ae.safetensors", model, config, data, {}, result.history)
    ckpt = load_checkpoint(path)
    assert ckpt.dataset["fingerprint"] == data.fingerprint()
    assert ckpt.dataset["class_names"] == list(data.class_names)
    assert ckpt.history == result.history
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), ckpt.model.state_dict().values(), strict=True)
    )


def test_loads_from_bytes_like_an_upload(saved):
    _, path = saved
    assert load_checkpoint(path.read_bytes()).config == CONFIG


def test_a_failed_save_leaves_the_old_file_and_no_temp_file(saved, monkeypatch):
    model, path = saved
    before = path.read_bytes()

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, build_model(CONFIG, seed=2))
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch /tmp/latent_explorer_pwned",))


def test_a_pickle_renamed_to_safetensors_is_refused_without_unpickling(tmp_path):
    marker = Path("/tmp/latent_explorer_pwned")
    marker.unlink(missing_ok=True)
    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps({"state": Exploit()}))
    with pytest.raises(CheckpointError, match="pickle"):
        load_checkpoint(path)
    assert not marker.exists()


def test_a_torch_save_file_is_refused(tmp_path):
    path = tmp_path / "model.safetensors"
    torch.save(build_model(CONFIG).state_dict(), path)
    with pytest.raises(CheckpointError, match="pickle"):
        load_checkpoint(path)


@pytest.mark.parametrize("keep", [0, 5, 100, -10])
def test_a_truncated_file_is_refused(saved, keep):
    _, path = saved
    data = path.read_bytes()
    with pytest.raises(CheckpointError):
        load_checkpoint(data[: keep if keep >= 0 else len(data) + keep])


def test_random_bytes_are_refused():
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        load_checkpoint(np.random.default_rng(0).bytes(4096))


def test_a_huge_header_length_is_refused_without_reading_it():
    data = struct.pack("<Q", 2**62) + b"{}"
    with pytest.raises(CheckpointError, match="bad header"):
        load_checkpoint(data)


def test_a_foreign_safetensors_file_is_refused(tmp_path):
    path = tmp_path / "foreign.safetensors"
    safetensors.torch.save_file({"w": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match="not a Latent Explorer checkpoint"):
        load_checkpoint(path)


def test_a_newer_format_is_refused_with_advice(saved):
    _, path = saved
    edited = rewrite_metadata(path, lambda m: m.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(CheckpointError, match="update Latent Explorer"):
        load_checkpoint(edited)


def test_weights_that_do_not_fit_the_config_are_refused(saved):
    _, path = saved
    edited = rewrite_metadata(path, lambda m: m["model_config"].update(latent_dim=5))
    with pytest.raises(CheckpointError, match="the config needs"):
        load_checkpoint(edited)


def test_an_invalid_config_is_refused(saved):
    _, path = saved
    edited = rewrite_metadata(path, lambda m: m["model_config"].update(latent_dim=-3))
    with pytest.raises(CheckpointError, match="invalid model or training config"):
        load_checkpoint(edited)


def test_nan_weights_are_refused(tmp_path):
    model = build_model(CONFIG)
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    path = save_checkpoint(tmp_path / "nan.safetensors", model)
    with pytest.raises(CheckpointError, match="NaN"):
        load_checkpoint(path)


def test_a_missing_file_is_reported(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "nope.safetensors")


def test_read_info_reads_the_metadata_from_the_header_only(saved):
    from training.checkpoints import read_info

    _, path = saved
    info = read_info(path)
    assert info["dataset"]["name"] == "faces" and info["model_config"]["latent_dim"] == 4
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(CheckpointError):
        read_info(path)
