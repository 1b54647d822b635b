"""`python -m training` with a fault on rank 1, for tests/test_distributed.py to run under torchrun.

torchrun --nproc_per_node=2 tests/faulty_rank.py start fit ...   rank 1 dies before starting
torchrun --nproc_per_node=2 tests/faulty_rank.py nan:K fit ...   rank 1's K-th loss is NaN
"""

import os
import sys

import training.fit
from training.cli import main


def poison_loss(call: int) -> None:
    """Make the call-th loss this process computes NaN (counting over all models it fits)."""
    original, calls = training.fit.loss_terms, [0]

    def loss_terms(*args, **kwargs):
        terms = original(*args, **kwargs)
        calls[0] += 1
        if calls[0] == call:
            terms["total"] = terms["total"] * float("nan")
        return terms

    training.fit.loss_terms = loss_terms


if __name__ == "__main__":
    fault, argv = sys.argv[1], sys.argv[2:]
    if os.environ.get("RANK") == "1":
        if fault == "start":
            raise RuntimeError("rank 1 failed to start (simulated)")
        poison_loss(int(fault.removeprefix("nan:")))
    sys.exit(main(argv))
