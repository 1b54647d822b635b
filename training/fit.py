"""The one training loop: any model, any data, with progress callbacks, cancel and NaN guard.

Fast on a CPU because the whole dataset is one tensor (no per-sample loader), batches are large,
bf16 autocast is used where the CPU computes bf16 natively, and Adam is fused where available.
Under torchrun each process trains its shard of every global batch (training/distributed.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from training import distributed
from training.config import TrainConfig
from training.distributed import SINGLE_PROCESS, Shard
from training.heap import release_freed_memory
from training.losses import loss_terms
from training.models import AE, LINEAR_FIT_SAMPLES, ModelOutput


@dataclass(frozen=True)
class Progress:
    """One progress report: where training is and the latest batch's loss terms (nats/image)."""

    step: int
    n_steps: int
    epoch: int  # 1-based
    n_epochs: int
    terms: dict[str, float]


@dataclass
class FitResult:
    """status: "finished", "cancelled" or "diverged"; history holds one dict per finished epoch
    with the mean of each loss term over that epoch. Under torchrun both, and samples_per_s,
    count the global batch (all processes)."""

    status: str
    message: str
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    samples_per_s: float = 0.0
    precision: str = "fp32"
    device: str = "cpu"


def resolve_device(name: str = "auto") -> torch.device:
    """CUDA when present (or asked for), else CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def cpu_has_native_bf16() -> bool:
    """True when the CPU has bf16 instructions (AVX512-BF16 or AMX): elsewhere bf16 is slower."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


BF16_MIN_PARAMETERS = 100_000  # below this, casting costs more than bf16 matmuls save (measured)


def resolve_precision(precision: str, device: torch.device, model: AE | None = None) -> str:
    """ "auto": bf16 where the hardware has it and the model is big enough to gain, else fp32."""
    if precision != "auto":
        return precision
    if model is not None and sum(p.numel() for p in model.parameters()) < BF16_MIN_PARAMETERS:
        return "fp32"
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_native_bf16() else "fp32"


def make_optimizer(model: AE, lr: float) -> torch.optim.Optimizer:
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except (RuntimeError, TypeError):  # no fused kernel for this device or build
        return torch.optim.Adam(model.parameters(), lr=lr)


def draw_rows(
    shape: tuple[int, ...], shard: Shard, generator: torch.Generator, sample=torch.randn
) -> torch.Tensor:
    """Random numbers of shape (n, ...) for this rank's n rows, drawn for the whole global
    batch (world_size * n rows) and sliced: every rank draws the same numbers from one seed, so
    the processes together use exactly what one process with the global batch would."""
    n = shape[0]
    full = sample((n * shard.world_size, *shape[1:]), generator=generator, device=generator.device)
    return full[shard.rows(n)]


def make_batch_loss(
    model: AE,
    config: TrainConfig,
    precision: str,
    generator: torch.Generator,
    shard: Shard = SINGLE_PROCESS,
    forward: torch.nn.Module | None = None,
) -> Callable[[torch.Tensor], dict[str, torch.Tensor]]:
    """A function from this rank's clean batch x to its loss terms (batch means), with the
    config's binarization, input noise and VAE sampling drawn from generator for the global
    batch. forward runs the model (its DistributedDataParallel wrapper, or the model)."""
    forward = model if forward is None else forward

    def terms_of(inputs: torch.Tensor, target: torch.Tensor, eps: torch.Tensor):
        with torch.autocast(generator.device.type, torch.bfloat16, enabled=precision == "bf16"):
            out = forward(inputs, eps)
        out = ModelOutput(*(t if t is None else t.float() for t in out))  # losses in fp32
        return loss_terms(out, target, model.config.likelihood, config.beta, config.sparsity)

    # Compiling forward and loss together lets the compiler fuse the loss's elementwise work;
    # the random draws stay outside, on our seeded generator.
    compute_terms = torch.compile(terms_of) if config.compile else terms_of

    def batch_loss(x: torch.Tensor) -> dict[str, torch.Tensor]:
        if config.binarize:  # x ~ Bernoulli(pixel): u < p with u ~ U(0, 1)
            x = (draw_rows(x.shape, shard, generator, torch.rand) < x).float()
        inputs = x
        if config.noise_std > 0:  # denoising: corrupt the input, keep the clean target
            noise = draw_rows(x.shape, shard, generator)
            inputs = (x + config.noise_std * noise).clamp(0, 1)
        eps = draw_rows((len(x), model.config.latent_dim), shard, generator)
        return compute_terms(inputs, x, eps)

    return batch_loss


@dataclass
class Batches:
    """The shuffled batches of each epoch. Every rank draws one order from one seed and takes
    its rows of every global batch (shard.world_size * batch_size images); the ragged last
    global batch is dropped each epoch."""

    data: torch.Tensor  # (N, C, H, W) stored images, on the CPU in their stored dtype
    pool: torch.Tensor  # (n,) rows of data to train on
    batch_size: int  # per process
    shard: Shard
    generator: torch.Generator

    @classmethod
    def of(
        cls, images, indices, batch_size: int, seed: int, shard: Shard = SINGLE_PROCESS
    ) -> Batches:
        """Batches of images[indices] (all images for None) seeded by seed."""
        data = torch.as_tensor(images)
        pool = torch.arange(len(data)) if indices is None else torch.as_tensor(indices).long()
        size = shard.batch_size(batch_size, len(pool))
        return cls(data, pool, size, shard, torch.Generator().manual_seed(seed))

    @property
    def global_size(self) -> int:
        return self.batch_size * self.shard.world_size

    @property
    def steps_per_epoch(self) -> int:
        return len(self.pool) // self.global_size

    def sample(self, n: int, seed: int) -> torch.Tensor:
        """Up to n seeded random training images as stored (the same on every rank)."""
        rows = torch.randperm(len(self.pool), generator=torch.Generator().manual_seed(seed))
        return self.data[self.pool[rows[:n]]]

    def epoch(self) -> Iterator[torch.Tensor]:
        """This rank's batches of one epoch, (batch_size, C, H, W) each."""
        order = self.pool[torch.randperm(len(self.pool), generator=self.generator)]
        rows, size = self.shard.rows(self.batch_size), self.global_size
        for i in range(self.steps_per_epoch):
            yield self.data[order[i * size : (i + 1) * size][rows]]


def make_schedule(optimizer: torch.optim.Optimizer, config: TrainConfig, n_steps: int):
    """The learning rate per step: constant, or "onecycle" (a warm-up over the first 15% of
    the steps to config.lr, then a cosine decay to almost zero; Smith & Topin, 2019), which
    reaches a lower loss in the same number of steps. None for constant."""
    if config.schedule != "onecycle" or n_steps < 2:
        return None
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=n_steps, pct_start=0.15
    )


def make_train_step(
    model: AE,
    config: TrainConfig,
    precision: str,
    device: torch.device,
    group: distributed.Group | None,
    n_steps: int,
) -> Callable[[torch.Tensor], dict[str, torch.Tensor]]:
    """A function that takes one optimizer step on this rank's batch x and returns the global
    batch's loss terms, detached. Where the global loss is not finite it updates nothing, on
    every rank alike: they all see the same all-reduced loss before any backward."""
    shard = SINGLE_PROCESS if group is None else group.shard
    forward = model if group is None else group.wrap(model)  # DDP averages the gradients
    generator = torch.Generator(device).manual_seed(config.seed + 1)
    batch_loss = make_batch_loss(model, config, precision, generator, shard, forward)
    optimizer = make_optimizer(model, config.lr)
    schedule = make_schedule(optimizer, config, n_steps)

    def train_step(x: torch.Tensor) -> dict[str, torch.Tensor]:
        terms = batch_loss(x)
        seen = {k: v.detach() for k, v in terms.items()} if group is None else group.mean(terms)
        if torch.isfinite(seen["total"]):
            optimizer.zero_grad(set_to_none=True)
            terms["total"].backward()
            optimizer.step()
            if schedule is not None:
                schedule.step()
        return seen

    return train_step


def snapshot(model: AE) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def divergence_message(loss: float, step: int, epoch: int, lr: float) -> str:
    restored = f"the end of epoch {epoch - 1}" if epoch > 1 else "before training"
    return (
        f"loss became {loss} at step {step} (epoch {epoch}): restored the weights from "
        f"{restored}. Try a lower learning rate (now {lr:g})."
    )


def as_float_batch(batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A batch of stored images as float32 in [0, 1] on device: uint8 pixels are scaled here,
    one batch at a time, so a dataset is held in memory at a quarter of its float size."""
    batch = batch.to(device, non_blocking=True)
    if batch.dtype == torch.uint8:
        return batch.float().div_(255)
    return batch.float()


def prepare(model: AE, images, config: TrainConfig, indices: np.ndarray | None = None) -> None:
    """What fit does first: fit what the model fits from data before training (the residual
    coders' PCA) on up to LINEAR_FIT_SAMPLES seeded random images[indices], the same rows on
    every rank. A pair prepares one model and shares it (AE.prepare_like)."""
    if model.needs_preparing():
        sample = Batches.of(images, indices, config.batch_size, config.seed).sample
        model.prepare(sample(LINEAR_FIT_SAMPLES, config.seed), config.seed)


def fit(
    model: AE,
    images: np.ndarray | torch.Tensor,
    config: TrainConfig,
    on_progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    report_every: int = 10,
    indices: np.ndarray | None = None,
) -> FitResult:
    """Train model in place on images (N, C, H, W): uint8 pixels or floats in [0, 1].

    indices picks the training images (e.g. a train split) without copying them; None: all.

    The same config.seed gives the same batches, noise and weights, so an AE and a VAE fitted
    with one config see the data in the same order. On a NaN/inf loss the weights of the last
    finished epoch are restored and status is "diverged".

    Inside `distributed.process_group()` (torchrun) this process trains its shard of every
    global batch under DistributedDataParallel; progress, history and divergence are those of
    the global batch, the same on every rank. A cancel must then be set on every rank.
    """
    group = distributed.current()
    device = resolve_device(config.device) if group is None else group.device
    precision = resolve_precision(config.precision, device, model)
    shard = SINGLE_PROCESS if group is None else group.shard
    batches = Batches.of(images, indices, config.batch_size, config.seed, shard)
    prepare(model, images, config, indices)
    model.to(device).train()
    n_steps = batches.steps_per_epoch * config.epochs
    train_step = make_train_step(model, config, precision, device, group, n_steps)
    last_good = snapshot(model)
    result = FitResult("finished", "", precision=precision, device=str(device))
    start, step = time.perf_counter(), 0
    for epoch in range(1, config.epochs + 1):
        sums: dict[str, torch.Tensor] = {}
        for i, batch in enumerate(batches.epoch()):
            if cancel is not None and cancel.is_set():
                result.status, result.message = "cancelled", f"cancelled in epoch {epoch}"
                break
            terms = train_step(as_float_batch(batch, device))
            if not torch.isfinite(terms["total"]):
                model.load_state_dict(last_good)
                loss = terms["total"].item()
                result.status = "diverged"
                result.message = divergence_message(loss, step + 1, epoch, config.lr)
                break
            step += 1
            sums = {k: sums.get(k, 0.0) + v for k, v in terms.items()}
            if on_progress is not None and (
                step % report_every == 0 or i == batches.steps_per_epoch - 1
            ):
                values = {k: v.item() for k, v in terms.items()}
                on_progress(Progress(step, n_steps, epoch, config.epochs, values))
        if result.status != "finished":
            break
        result.history.append({k: v.item() / batches.steps_per_epoch for k, v in sums.items()})
        last_good = snapshot(model)

    result.seconds = time.perf_counter() - start
    result.samples_per_s = step * batches.global_size / max(result.seconds, 1e-9)
    if result.status == "finished":
        epochs = "1 epoch" if config.epochs == 1 else f"{config.epochs} epochs"
        result.message = f"trained {epochs} in {result.seconds:.1f} s"
    release_freed_memory()  # the batches' freed buffers, before evaluation allocates its own
    model.eval()
    return result
