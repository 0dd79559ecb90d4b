"""``RunMeasureHook``: what a training run costs, measured inside mmengine's Runner.

Each process writes ``<work_dir>/measure/rank<N>.json`` when training ends: the per-iteration
wall time and data-loader wait that mmengine's ``IterTimerHook`` recorded (the message hub's
``train/time`` and ``train/data_time`` histories, one value per iteration), the wall time of
each validation, the images per iteration of this process, and the peak GPU memory its device
saw (``torch.cuda.max_memory_allocated``; ``null`` on a CPU). ``mapsage.kaggle.bootstrap``
turns the files into ``bootstrap.json``.

A config enables it with ``custom_imports = dict(imports=['mapsage.training.hooks.measure'])`` and
``custom_hooks = [dict(type='RunMeasureHook')]``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from mapsage.safe_write import write_text
from mapsage.training.hooks import MEASURE_HOOK

MEASURE_DIR = "measure"


def _cuda_device(runner):
    import torch

    if not torch.cuda.is_available():
        return None
    device = next(runner.model.parameters()).device
    return device if device.type == "cuda" else None


@HOOKS.register_module(name=MEASURE_HOOK)
class RunMeasureHook(Hook):
    """Record iteration times, data wait, validation times and peak GPU memory per process."""

    priority = "VERY_LOW"

    def __init__(self, out_dir: str | None = None):
        self.out_dir = out_dir
        self.val_s: list[float] = []
        self._val_started: float | None = None

    def before_train(self, runner) -> None:
        import torch

        device = _cuda_device(runner)
        if device is not None:
            torch.cuda.reset_peak_memory_stats(device)

    def before_val(self, runner) -> None:
        self._sync(runner)
        self._val_started = time.perf_counter()

    def after_val(self, runner) -> None:
        if self._val_started is not None:
            self._sync(runner)
            self.val_s.append(round(time.perf_counter() - self._val_started, 4))
            self._val_started = None

    @staticmethod
    def _sync(runner) -> None:
        import torch

        device = _cuda_device(runner)
        if device is not None:
            torch.cuda.synchronize(device)

    def after_train(self, runner) -> None:
        import torch

        hub = runner.message_hub
        times = self._history(hub, "train/time")
        waits = self._history(hub, "train/data_time")
        device = _cuda_device(runner)
        record = {
            "rank": runner.rank,
            "world_size": runner.world_size,
            "device": str(device) if device is not None else "cpu",
            "device_name": torch.cuda.get_device_name(device) if device is not None else None,
            "peak_memory_bytes": (int(torch.cuda.max_memory_allocated(device))
                                  if device is not None else None),
            "batch_size": runner.train_dataloader.batch_size,
            "iterations": runner.iter,
            "iter_time_s": times,
            "data_time_s": waits,
            "val_time_s": list(self.val_s),
        }
        out = Path(self.out_dir or Path(runner.work_dir) / MEASURE_DIR)
        out.mkdir(parents=True, exist_ok=True)
        write_text(out / f"rank{runner.rank}.json", json.dumps(record, indent=1) + "\n")

    @staticmethod
    def _history(hub, key: str) -> list[float]:
        if key not in hub.log_scalars:
            return []
        values, _counts = hub.get_scalar(key).data
        return [round(float(v), 6) for v in values]
