"""The training time-lapse: the codes of a fixed subset of training images, recorded every few
steps while a model trains, and saved with the run so the explorer can replay its maps forming.

A Recorder follows one model through fit (as its on_progress callback); a Timelapse holds the
pair's recordings and is stored as out_dir/timelapse.safetensors: plain arrays and a string
header, never pickle, written atomically. Pure torch + NumPy.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import safetensors.numpy
import torch

from training.atomic import atomic_write
from training.fit import Progress, as_float_batch
from training.models import AE

FILENAME = "timelapse.safetensors"
FORMAT = "latent-explorer-timelapse"
VERSION = "1"
MIN_FRAMES, MAX_FRAMES = 20, 60  # 60: a smooth animation; under 4 MB for 500 32-D codes
MIN_IMAGES, MAX_IMAGES = 200, 500  # enough to see every cluster form; few enough to animate
# Recording encodes at most SHARE images per image trained: encoding one costs 0.2-0.4 of
# training on one (measured: MNIST's MLP, the faces' residual coders), so about 2% of the
# training time. FLOOR (images x pixels) costs under 50 ms on any default model: always allowed.
SHARE = 0.05
FLOOR = 2_000_000
MAX_FILE_BYTES = 1 << 28  # 256 MiB: far above a real time-lapse, refused before reading


class TimelapseError(ValueError):
    """A file that is not a time-lapse this code can read; the message says which and why."""


@dataclass(frozen=True)
class Track:
    """One model's recording.

    steps:       (F,) int64 optimizer steps of the frames, ascending; 0 is before training
    codes:       (F, N, K) float32 codes (a VAE's means) of the recorded images at each frame
    terms:       name -> (F,) float32 loss terms of the batch at each frame (NaN at step 0)
    curve_steps: (P,) int64 steps of every progress report
    curve:       name -> (P,) float32 loss terms (nats per image) at each report
    """

    steps: np.ndarray
    codes: np.ndarray
    terms: dict[str, np.ndarray]
    curve_steps: np.ndarray
    curve: dict[str, np.ndarray]


@dataclass(frozen=True)
class Timelapse:
    """A pair's recordings: the same images (dataset rows `indices`, (N,) int64) for each kind."""

    dataset: str
    indices: np.ndarray
    tracks: dict[str, Track]


def plan(n_train: int, batch_size: int, epochs: int, n_pixels: int) -> tuple[int, int]:
    """(images, most frames) to record for a run within the budget (SHARE, FLOOR): short runs
    on big images get fewer of both, long runs the most."""
    n_steps = n_train // max(batch_size, 1) * epochs
    budget = max(SHARE * n_steps * batch_size, FLOOR / n_pixels)  # images encoded in all
    n_images = int(np.clip(budget // MAX_FRAMES, MIN_IMAGES, MAX_IMAGES))
    return n_images, int(np.clip(budget // n_images, MIN_FRAMES, MAX_FRAMES))


def subset_indices(train_indices: np.ndarray, seed: int, n: int = MAX_IMAGES) -> np.ndarray:
    """(min(n, N),) int64: a seeded random subset of the training rows, sorted."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(np.asarray(train_indices), size=min(n, len(train_indices)), replace=False)
    return np.sort(chosen).astype(np.int64)


def frame_interval(n_steps: int, max_frames: int = MAX_FRAMES) -> int:
    """Steps between frames so that step 0, every interval-th step and the last step make at
    most max_frames frames (>= 3)."""
    if max_frames < 3:
        raise ValueError(f"max_frames must be at least 3, got {max_frames}")
    return max(1, math.ceil(n_steps / (max_frames - 2)))


class Recorder:
    """Records a Track of model while fit trains it: call start() before fit, then pass the
    recorder as fit's on_progress (or call it from there). Frames are taken at the first report
    at or after each multiple of `every` steps (fit reports every 10 steps and at each epoch's
    end), and at the last step. Recording reads the model under no_grad and draws no random
    numbers, so the trained weights are exactly those of a run without it."""

    def __init__(self, model: AE, images, max_frames: int = MAX_FRAMES) -> None:
        """images: (N, C, H, W) the recorded images as stored (uint8, or floats in [0, 1])."""
        self.model, self.images, self.max_frames = model, torch.as_tensor(images), max_frames
        self.every: int | None = None  # set at the first report, which knows the run's length
        self.steps: list[int] = []
        self.codes: list[np.ndarray] = []
        self.terms: list[dict[str, float]] = []
        self.curve: list[tuple[int, dict[str, float]]] = []

    def start(self) -> None:
        """Record the codes before training (step 0)."""
        self.record(0, {})

    def __call__(self, progress: Progress) -> None:
        self.curve.append((progress.step, dict(progress.terms)))
        if self.every is None:
            self.every = frame_interval(progress.n_steps, self.max_frames)
        last = self.steps[-1] if self.steps else -1
        due = progress.step // self.every > last // self.every
        if due or (progress.step == progress.n_steps and progress.step != last):
            self.record(progress.step, progress.terms)

    @torch.no_grad()
    def record(self, step: int, terms: dict[str, float]) -> None:
        """Encode the images now and keep them as the frame of `step`."""
        device = next(self.model.parameters()).device
        was_training = self.model.training
        self.model.eval()  # layers that differ in training (none today) must not change
        try:
            codes = self.model.encode(as_float_batch(self.images, device))
        finally:
            self.model.train(was_training)
        self.steps.append(step)
        self.codes.append(codes.float().cpu().numpy())
        self.terms.append(dict(terms))

    def track(self) -> Track:
        """What was recorded so far."""
        names = sorted({name for _, terms in self.curve for name in terms})

        def column(rows: list[dict[str, float]], name: str) -> np.ndarray:
            return np.array([row.get(name, np.nan) for row in rows], dtype=np.float32)

        k = self.model.config.latent_dim
        return Track(
            steps=np.array(self.steps, dtype=np.int64),
            codes=np.stack(self.codes) if self.codes else np.zeros((0, len(self.images), k)),
            terms={name: column(self.terms, name) for name in names},
            curve_steps=np.array([step for step, _ in self.curve], dtype=np.int64),
            curve={name: column([terms for _, terms in self.curve], name) for name in names},
        )


# ---- the file: one safetensors file, tensors named "<kind>.<field>[.<term>]" ----


def save_timelapse(path: str | Path, timelapse: Timelapse) -> Path:
    """Write timelapse to path atomically (a crash never leaves half a file)."""
    tensors = {"indices": np.ascontiguousarray(timelapse.indices, dtype=np.int64)}
    for kind, track in timelapse.tracks.items():
        tensors[f"{kind}.steps"] = track.steps.astype(np.int64)
        tensors[f"{kind}.codes"] = track.codes.astype(np.float32)
        tensors[f"{kind}.curve_steps"] = track.curve_steps.astype(np.int64)
        for name, values in track.terms.items():
            tensors[f"{kind}.terms.{name}"] = values.astype(np.float32)
        for name, values in track.curve.items():
            tensors[f"{kind}.curve.{name}"] = values.astype(np.float32)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "dataset": timelapse.dataset,
        "kinds": json.dumps(list(timelapse.tracks)),
    }
    data = safetensors.numpy.save({k: np.ascontiguousarray(v) for k, v in tensors.items()}, header)
    path = Path(path)
    with atomic_write(path) as f:
        f.write(data)
    return path


def load_timelapse(path: str | Path) -> Timelapse:
    """The time-lapse in path; raises TimelapseError (naming the file) for anything else."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise TimelapseError(f"{path}: larger than {MAX_FILE_BYTES >> 20} MiB")
        data = path.read_bytes()
    except OSError as e:
        raise TimelapseError(f"{path}: cannot be read ({e.strerror or e})") from e
    try:
        header = read_header(data)
        tensors = safetensors.numpy.load(data)
    except Exception as e:  # the library raises its own error types for corrupt data
        raise TimelapseError(f"{path}: not a safetensors file ({e})") from e
    try:
        return parse(header, tensors)
    except (KeyError, TypeError, ValueError) as e:
        raise TimelapseError(f"{path}: not a valid time-lapse ({e})") from e


def read_header(data: bytes) -> dict[str, str]:
    """The string metadata of a safetensors file's bytes."""
    size = int.from_bytes(data[:8], "little")
    if not 0 < size <= len(data) - 8:
        raise ValueError("bad header length")
    return json.loads(data[8 : 8 + size]).get("__metadata__") or {}


def parse(header: dict[str, str], tensors: dict[str, np.ndarray]) -> Timelapse:
    """A Timelapse from a file's header and arrays, every shape checked."""
    if header.get("format") != FORMAT or header.get("version") != VERSION:
        found = f"{header.get('format')} version {header.get('version')}"
        raise ValueError(f"expected {FORMAT} version {VERSION}, found {found}")
    indices = expect(tensors, "indices", np.int64, 1)
    kinds = json.loads(header["kinds"])
    if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
        raise ValueError("kinds must be a list of names")
    return Timelapse(
        str(header["dataset"]), indices, {k: parse_track(tensors, k, len(indices)) for k in kinds}
    )


def parse_track(tensors: dict[str, np.ndarray], kind: str, n_images: int) -> Track:
    steps = expect(tensors, f"{kind}.steps", np.int64, 1)
    codes = expect(tensors, f"{kind}.codes", np.float32, 3)
    curve_steps = expect(tensors, f"{kind}.curve_steps", np.int64, 1)
    if codes.shape[:2] != (len(steps), n_images):
        raise ValueError(
            f"{kind}.codes has shape {codes.shape}, expected ({len(steps)}, {n_images}, K)"
        )
    if np.any(np.diff(steps) <= 0):
        raise ValueError(f"{kind}.steps must increase")

    def named(field: str, length: int) -> dict[str, np.ndarray]:
        prefix = f"{kind}.{field}."
        found = {
            key[len(prefix) :]: expect(tensors, key, np.float32, 1)
            for key in tensors
            if key.startswith(prefix)
        }
        if any(len(values) != length for values in found.values()):
            raise ValueError(f"{prefix}* must each have {length} values")
        return found

    return Track(
        steps, codes, named("terms", len(steps)), curve_steps, named("curve", len(curve_steps))
    )


def expect(tensors: dict[str, np.ndarray], name: str, dtype, ndim: int) -> np.ndarray:
    """tensors[name], checked to be of dtype with ndim dimensions."""
    if name not in tensors:
        raise KeyError(f"no array {name!r}")
    values = tensors[name]
    if values.dtype != dtype or values.ndim != ndim:
        raise ValueError(
            f"{name} is {values.dtype} with {values.ndim} dimensions, expected "
            f"{np.dtype(dtype)} with {ndim}"
        )
    return values
