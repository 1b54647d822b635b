"""Data-parallel training under torchrun: the process group from torchrun's environment, which
rows of every global batch a process trains on, and a teardown that always runs.

Without torchrun, or with one process (WORLD_SIZE unset or 1), nothing here initialises a
process group: `current()` is None and fit trains as a plain single process.

    torchrun --nproc_per_node=N -m training fit ...   N processes, batch_size each: global N x
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import torch
from torch import nn

TIMEOUT_ENV = "LATENT_EXPLORER_DIST_TIMEOUT"
# A dead or stuck peer ends the job after this long instead of torch's default 30 minutes.
DEFAULT_TIMEOUT_S = 120.0


def world_size() -> int:
    """Processes in this job: torchrun's WORLD_SIZE, 1 without torchrun."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """True on rank 0 and without torchrun: the one process that prints and writes files.
    Read from torchrun's environment, so it holds before the process group exists."""
    return world_size() <= 1 or int(os.environ.get("RANK", "0")) == 0


def timeout() -> timedelta:
    """How long a collective waits for its peers: $LATENT_EXPLORER_DIST_TIMEOUT seconds."""
    return timedelta(seconds=float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT_S))


def threads_per_process() -> int:
    """This process's share of the cores: oversubscribed CPU processes run 12x slower."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", "1")))


@dataclass(frozen=True)
class Shard:
    """Which rows of every global batch one process trains on.

    All ranks shuffle with one seed; a global batch holds world_size * b rows and rank r takes
    rows [r * b, (r + 1) * b). Noise drawn for the whole global batch is sliced the same way,
    so N processes with batch b train like one process with batch N * b.
    """

    rank: int = 0
    world_size: int = 1

    def batch_size(self, per_process: int, n_samples: int) -> int:
        """The per-process batch: per_process, fewer when n_samples is less than a global batch."""
        size = min(per_process, n_samples // self.world_size)
        if size < 1:
            raise ValueError(f"{n_samples} training images cannot feed {self.world_size} processes")
        return size

    def rows(self, batch_size: int) -> slice:
        """This rank's rows of a global batch (or of noise drawn for one) of per-rank size."""
        return slice(self.rank * batch_size, (self.rank + 1) * batch_size)


SINGLE_PROCESS = Shard()


@dataclass(frozen=True)
class Group:
    """This process's place in the initialised process group, and its device."""

    shard: Shard
    device: torch.device
    backend: str = "gloo"

    def wrap(self, model: nn.Module) -> nn.Module:
        """model under DistributedDataParallel: backward averages gradients over ranks."""
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def mean(self, terms: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Each (scalar) term averaged over ranks, detached: the global batch's mean, as all
        ranks hold equal batches. One tiny all_reduce; a NaN on any rank is NaN everywhere."""
        import torch.distributed as dist

        values = torch.stack([v.detach().double() for v in terms.values()])
        dist.all_reduce(values)
        values = (values / self.shard.world_size).float()
        return dict(zip(terms, values.unbind(), strict=True))


_current: Group | None = None


def current() -> Group | None:
    """The process group this process trains in, None outside `process_group()`."""
    return _current


def start(device_name: str = "auto") -> Group:
    """Join torchrun's process group: NCCL on cuda:LOCAL_RANK where CUDA is used, else gloo
    on the CPU with this process's share of the cores."""
    import torch.distributed as dist

    use_cuda = device_name != "cpu" and torch.cuda.is_available()
    if use_cuda:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
        torch.set_num_threads(threads_per_process())
    backend = "nccl" if use_cuda else "gloo"
    dist.init_process_group(backend, timeout=timeout(), device_id=device if use_cuda else None)
    return Group(Shard(dist.get_rank(), dist.get_world_size()), device, backend)


def stop(clean: bool) -> None:
    """Leave the process group. gloo aborts at exit ("terminate called without an active
    exception") unless DDP's reducers are freed first and the ranks meet at a barrier; after an
    error the peers may be elsewhere, so there is no barrier then."""
    import torch.distributed as dist

    gc.collect()  # DDP wrappers sit in reference cycles that hold the group
    try:
        if clean:
            dist.barrier()
    finally:
        dist.destroy_process_group()


@contextlib.contextmanager
def process_group(device_name: str = "auto") -> Iterator[Group | None]:
    """The process group for the block when torchrun started several processes, else None.
    The group is left on every exit, also on errors. Free models and optimizers (return from
    the function that used them) before the block ends."""
    global _current
    if world_size() <= 1:
        yield None
        return
    _current = start(device_name)
    clean = False
    try:
        yield _current
        clean = True
    finally:
        _current = None
        stop(clean)
