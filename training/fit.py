"""The one training loop: any model, any data, with progress callbacks, cancel and NaN guard.

Fast on a CPU because the whole dataset is one tensor (no per-sample loader), batches are large,
bf16 autocast is used where the CPU computes bf16 natively, and Adam is fused where available.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from training.config import TrainConfig
from training.losses import loss_terms
from training.models import AE, ModelOutput


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
    with the mean of each loss term over that epoch."""

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


def make_batch_loss(
    model: AE, config: TrainConfig, precision: str, generator: torch.Generator
) -> Callable[[torch.Tensor], dict[str, torch.Tensor]]:
    """A function from a clean batch x to its loss terms, with the config's binarization,
    input noise and VAE sampling drawn from generator."""
    device = generator.device

    def terms_of(inputs: torch.Tensor, target: torch.Tensor, eps: torch.Tensor):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            out = model(inputs, eps)
        out = ModelOutput(*(t if t is None else t.float() for t in out))  # losses in fp32
        return loss_terms(out, target, model.config.likelihood, config.beta, config.sparsity)

    # Compiling forward and loss together lets the compiler fuse the loss's elementwise work;
    # the random draws stay outside, on our seeded generator.
    compute_terms = torch.compile(terms_of) if config.compile else terms_of

    def batch_loss(x: torch.Tensor) -> dict[str, torch.Tensor]:
        if config.binarize:
            x = torch.bernoulli(x, generator=generator)
        inputs = x
        if config.noise_std > 0:  # denoising: corrupt the input, keep the clean target
            noise = torch.randn(x.shape, generator=generator, device=device)
            inputs = (x + config.noise_std * noise).clamp(0, 1)
        eps = torch.randn((len(x), model.config.latent_dim), generator=generator, device=device)
        return compute_terms(inputs, x, eps)

    return batch_loss


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
    """
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device, model)
    model.to(device).train()
    data = torch.as_tensor(images)  # stays on the CPU in its stored dtype; batches move
    pool = torch.arange(len(data)) if indices is None else torch.as_tensor(indices).long()
    batch_size = min(config.batch_size, len(pool))
    steps_per_epoch = len(pool) // batch_size  # the ragged last batch is dropped each epoch
    n_steps = steps_per_epoch * config.epochs
    shuffle_gen = torch.Generator().manual_seed(config.seed)
    batch_loss = make_batch_loss(
        model, config, precision, torch.Generator(device).manual_seed(config.seed + 1)
    )
    optimizer = make_optimizer(model, config.lr)
    last_good = snapshot(model)
    result = FitResult("finished", "", precision=precision, device=str(device))
    start, step = time.perf_counter(), 0
    for epoch in range(1, config.epochs + 1):
        order = pool[torch.randperm(len(pool), generator=shuffle_gen)]
        sums: dict[str, torch.Tensor] = {}
        for i in range(steps_per_epoch):
            if cancel is not None and cancel.is_set():
                result.status, result.message = "cancelled", f"cancelled in epoch {epoch}"
                break
            batch = data[order[i * batch_size : (i + 1) * batch_size]]
            terms = batch_loss(as_float_batch(batch, device))
            if not torch.isfinite(terms["total"]):
                model.load_state_dict(last_good)
                result.status = "diverged"
                result.message = divergence_message(
                    terms["total"].item(), step + 1, epoch, config.lr
                )
                break
            optimizer.zero_grad(set_to_none=True)
            terms["total"].backward()
            optimizer.step()
            step += 1
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v.detach()
            if on_progress is not None and (step % report_every == 0 or i == steps_per_epoch - 1):
                values = {k: v.item() for k, v in terms.items()}
                on_progress(Progress(step, n_steps, epoch, config.epochs, values))
        if result.status != "finished":
            break
        result.history.append({k: v.item() / steps_per_epoch for k, v in sums.items()})
        last_good = snapshot(model)

    result.seconds = time.perf_counter() - start
    result.samples_per_s = step * batch_size / max(result.seconds, 1e-9)
    if result.status == "finished":
        result.message = f"trained {config.epochs} epochs in {result.seconds:.1f} s"
    model.eval()
    return result
