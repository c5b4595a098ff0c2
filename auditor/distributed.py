"""Several processes on one run (`torchrun`, `accelerate launch`): who writes, and waiting.

Every process runs the same cycle, because the HF Trainer trains one model with all of
them (DDP). Files are written by rank 0 only; a stage that does not train runs in rank 0
alone while the others wait for its outcome. One process (no WORLD_SIZE) is the common
case: then nothing here touches torch.distributed.
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

T = TypeVar("T")

_object_group: Any = None


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_main_process() -> bool:
    """False in the non-zero ranks, which leave the run directory to rank 0."""
    return rank() == 0


def _group():
    """A gloo group over every process, for Python objects whatever the training backend.

    The default group is created the way the Trainer would (env:// rendezvous from the
    launcher), so the Trainer later finds it initialised and uses it.
    """
    global _object_group
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "gloo"
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
            backend = "cuda:nccl,cpu:gloo"
        dist.init_process_group(backend=backend)
        # tear the group down before the interpreter does: a gloo group left to the process's
        # exit handlers can abort (SIGABRT) a rank whose peer already exited
        import atexit

        atexit.register(_shutdown)
    if _object_group is None:
        _object_group = dist.new_group(backend="gloo")
    return _object_group


def _shutdown() -> None:
    import torch.distributed as dist

    try:
        if dist.is_initialized():
            dist.destroy_process_group()
    except Exception:  # exiting anyway; nothing left to save
        pass


def share_from_main(value: T) -> T:
    """Rank 0's `value` in every process. Also a barrier: no process returns before rank 0
    has reached this call (so whatever rank 0 wrote before it is there for everyone)."""
    if world_size() <= 1:
        return value
    import torch.distributed as dist

    box = [value if is_main_process() else None]
    dist.broadcast_object_list(box, src=0, group=_group())
    return box[0]


def barrier() -> None:
    share_from_main(None)
