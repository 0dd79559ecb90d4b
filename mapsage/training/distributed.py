"""Data-parallel training on PyTorch's own engine, on GPUs (NCCL) and on CPUs (gloo).

mmengine 0.10.7's ``pytorch`` launcher assumes CUDA: it calls ``torch.cuda.set_device`` while
initialising, and wraps the model in DistributedDataParallel with ``device_ids=[LOCAL_RANK]``,
which DDP rejects for a CPU module. For CPU processes MapSage therefore initialises the gloo
process group itself before the Runner starts (mmengine then skips its own initialisation), and
uses :class:`CPUDistributedDataParallel`, mmengine's own wrapper minus the device ids. GPU runs
use mmengine's path unchanged.
"""

from __future__ import annotations

import os

from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """mmengine's DDP wrapper without device ids, for CPU processes (gloo)."""

    def __init__(self, module, device_ids=None, **kwargs):
        super().__init__(module=module, device_ids=None, **kwargs)


def world_size() -> int:
    """Processes in this run (torchrun's WORLD_SIZE; 1 without torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_cpu_process_group() -> None:
    """Join the gloo process group torchrun described in the environment."""
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")


def leave_process_group() -> None:
    """After a finished run: wait for every rank, then leave the process group (gloo or NCCL)
    before the interpreter exits.

    mmengine never destroys the group it trains in. A rank that then exits while gloo's worker
    threads are alive can abort during interpreter finalisation ("terminate called without an
    active exception", SIGABRT; pytorch/pytorch#190489), and torchrun answers by killing the
    other ranks: a finished two-process run failed that way while rank 0 was still saving its
    best checkpoint. Waiting first also keeps every rank alive until rank 0 has written the
    run's results. A failed run does not come here: it exits with its error, the other ranks may
    never arrive, and torchrun ends them."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return
    dist.barrier()
    dist.destroy_process_group()
