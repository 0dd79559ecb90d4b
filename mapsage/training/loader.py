"""DataLoader settings that fit the machine: worker count, pinned memory, persistent workers.

``num_workers=None`` (the default) means: as many loading processes as the CPUs this process may
use can feed, computed here and nowhere else. Each training process keeps one CPU for itself
(the training loop, and on a CPU-only machine torch's own threads); the rest are shared out
among the training processes (one per GPU), at most ``MAX_WORKERS`` each. On a 2-core machine
with one process that is 1 worker; on a Kaggle GPU machine (4 CPUs) 3 for one GPU and 1 each
for two.

CPUs are counted by :func:`mapsage.params.usable_cpus`: ``os.sched_getaffinity`` (what a
container, ``taskset`` or a job scheduler allows this process), not ``os.cpu_count`` (the
machine's).
"""

from __future__ import annotations

from dataclasses import dataclass

from mapsage.params import usable_cpus

MAX_WORKERS = 8  # beyond this, more workers only cost memory for SegFormer's pipeline


def auto_num_workers(processes: int = 1, cpus: int | None = None) -> int:
    """Data-loading workers per training process for ``processes`` processes on ``cpus`` CPUs."""
    cpus = usable_cpus() if cpus is None else cpus
    per_process = cpus // max(1, processes)
    return max(0, min(MAX_WORKERS, per_process - 1))


@dataclass(frozen=True)
class LoaderSettings:
    num_workers: int
    pin_memory: bool
    persistent_workers: bool

    def describe(self) -> str:
        return (f"{self.num_workers} data-loading worker(s) per process, "
                f"pin_memory={self.pin_memory}, persistent_workers={self.persistent_workers}")


def loader_settings(num_workers: int | None, *, device: str, processes: int = 1,
                    cpus: int | None = None) -> LoaderSettings:
    """The settings for every DataLoader of a run: ``num_workers`` None = :func:`auto_num_workers`;
    pinned memory on CUDA (faster host-to-GPU copies); workers kept alive between epochs and
    validations whenever there are any."""
    workers = auto_num_workers(processes, cpus) if num_workers is None else num_workers
    return LoaderSettings(workers, device == "cuda", workers > 0)
