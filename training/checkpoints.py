"""Safe checkpoints: one .safetensors file per model, tensors plus JSON metadata, no pickle.

Loading a file a stranger sent cannot run code: the bytes are parsed as a length-prefixed JSON
header and raw tensor data (the safetensors format), and everything is validated before use.
"""

from __future__ import annotations

import json
import platform
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import safetensors
import safetensors.torch
import torch

from training.atomic import atomic_write
from training.config import ModelConfig, TrainConfig, config_from_dict, config_to_dict
from training.data import Dataset
from training.models import AE, build_model

FORMAT_VERSION = 1
METADATA_KEY = "latent_explorer"
MAX_HEADER_BYTES = 1 << 24  # 16 MiB of JSON is far beyond any real checkpoint's header
MAX_FILE_BYTES = 1 << 31


class CheckpointError(Exception):
    """A checkpoint that cannot be used; the message says which file and why."""


@dataclass
class Checkpoint:
    """A loaded model and what is known about how it was made."""

    model: AE
    train_config: TrainConfig | None = None
    dataset: dict = field(default_factory=dict)  # name, fingerprint, image_shape, class names...
    metrics: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    versions: dict = field(default_factory=dict)
    created: str = ""

    @property
    def config(self) -> ModelConfig:
        return self.model.config


def dataset_summary(dataset: Dataset) -> dict:
    """What a checkpoint records about its training data."""
    return {
        "name": dataset.name,
        "fingerprint": dataset.fingerprint(),
        "image_shape": list(dataset.image_shape),
        "n_samples": dataset.n_samples,
        "class_names": list(dataset.class_names),
        "attribute_names": list(dataset.attribute_names),
    }


def save_checkpoint(
    path: str | Path,
    model: AE,
    train_config: TrainConfig | None = None,
    dataset: Dataset | dict | None = None,
    metrics: dict | None = None,
    history: list[dict] | None = None,
    dtype: torch.dtype | None = None,
) -> Path:
    """Write model to path atomically (temp file + rename): a crash never leaves half a file.
    dtype: store the weights in it (torch.float16 halves a shipped model); they load as float32.

    Raises training.atomic.WriteError (an OSError whose message names the file and says "the
    disk is full" when it is) if the file cannot be written; a file already at path is kept."""
    path = Path(path)
    if isinstance(dataset, Dataset):
        dataset = dataset_summary(dataset)
    meta = {
        "format_version": FORMAT_VERSION,
        "model_config": config_to_dict(model.config),
        "train_config": config_to_dict(train_config) if train_config else None,
        "dataset": dataset or {},
        "metrics": metrics or {},
        "history": history or [],
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "safetensors": safetensors.__version__,
        },
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if dtype is not None:
        tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    data = safetensors.torch.save(tensors, metadata={METADATA_KEY: json.dumps(meta)})
    with atomic_write(path) as f:
        f.write(data)
    return path


def load_checkpoint(source: str | Path | bytes, name: str | None = None) -> Checkpoint:
    """Load and validate a checkpoint from a path or from raw bytes (an upload).

    Raises CheckpointError for anything that is not a complete checkpoint of this format:
    pickles, foreign or truncated files, a newer format, mismatched shapes, non-finite weights.
    """
    if isinstance(source, bytes):
        data, name = source, name or "uploaded file"
    else:
        name = name or str(source)
        data = read_bounded(Path(source), name)
    meta = read_metadata(data, name)
    try:
        model = build_model(config_from_dict(ModelConfig, meta["model_config"]))
        train = meta.get("train_config")
        train_config = config_from_dict(TrainConfig, train) if train else None
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{name}: invalid model or training config ({e})") from None
    try:
        tensors = safetensors.torch.load(data)
    except Exception as e:  # the library raises its own error types for corrupt tensor data
        raise CheckpointError(f"{name}: corrupt or truncated tensor data ({e})") from None
    check_tensors(tensors, model, name)
    halves = {k: v.float() for k, v in tensors.items() if v.dtype == torch.float16}
    model.load_state_dict({**tensors, **halves}, strict=True)
    model.eval()
    return Checkpoint(
        model=model,
        train_config=train_config,
        dataset=dict(meta.get("dataset") or {}),
        metrics=dict(meta.get("metrics") or {}),
        history=list(meta.get("history") or []),
        versions=dict(meta.get("versions") or {}),
        created=str(meta.get("created", "")),
    )


def read_info(path: str | Path) -> dict:
    """The metadata of a checkpoint file (configs, dataset, metrics), reading only its header."""
    with open(path, "rb") as f:
        head = f.read(8)
        size = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
        data = head + f.read(min(size, MAX_HEADER_BYTES))  # read_metadata checks the length
    return read_metadata(data, str(path))


def read_bounded(path: Path, name: str) -> bytes:
    if not path.is_file():
        raise CheckpointError(f"{name}: no such file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise CheckpointError(f"{name}: larger than {MAX_FILE_BYTES >> 20} MiB, refused")
    return path.read_bytes()


def read_metadata(data: bytes, name: str) -> dict:
    """Our metadata dict from the safetensors header, parsed without touching tensor data."""
    (header_len,) = struct.unpack("<Q", data[:8]) if len(data) >= 8 else (-1,)
    if not 0 < header_len <= min(MAX_HEADER_BYTES, len(data) - 8) or data[8:9] != b"{":
        if data[:1] == b"\x80" or data[:2] == b"PK":  # pickle protocol >= 2, or torch.save's zip
            raise CheckpointError(
                f"{name}: this is a pickle/torch.save file, not safetensors; refused without "
                "opening it (unpickling can run arbitrary code)"
            )
        raise CheckpointError(f"{name}: not a safetensors file, or truncated (bad header)")
    try:
        header = json.loads(data[8 : 8 + header_len])
        meta = json.loads(header["__metadata__"][METADATA_KEY])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{name}: unreadable header ({e})") from None
    except (KeyError, TypeError):
        raise CheckpointError(
            f"{name}: a safetensors file, but not a Latent Explorer checkpoint (no metadata)"
        ) from None
    if not isinstance(meta, dict) or "format_version" not in meta:
        raise CheckpointError(f"{name}: metadata without a format version")
    if meta["format_version"] != FORMAT_VERSION:
        raise CheckpointError(
            f"{name}: checkpoint format {meta['format_version']!r}, this version reads "
            f"{FORMAT_VERSION}: update Latent Explorer or re-train"
        )
    return meta


def check_tensors(tensors: dict[str, torch.Tensor], model: AE, name: str) -> None:
    """Same names, shapes and dtypes as the model the config describes (float16 for float32:
    a shipped model's halved weights), and finite values."""
    expected = model.state_dict()
    missing, extra = expected.keys() - tensors.keys(), tensors.keys() - expected.keys()
    if missing or extra:
        raise CheckpointError(
            f"{name}: weights do not match the model config "
            f"(missing {sorted(missing)[:3]}, unexpected {sorted(extra)[:3]})"
        )
    for key, want in expected.items():
        got = tensors[key]
        halved = got.dtype == torch.float16 and want.dtype == torch.float32
        if got.shape != want.shape or not (got.dtype == want.dtype or halved):
            raise CheckpointError(
                f"{name}: {key} is {tuple(got.shape)} {got.dtype}, "
                f"the config needs {tuple(want.shape)} {want.dtype}"
            )
        if not torch.isfinite(got).all():
            raise CheckpointError(f"{name}: {key} holds NaN or infinite values")
