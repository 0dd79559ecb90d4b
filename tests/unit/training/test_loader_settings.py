"""num_workers=None is decided from the CPUs the process may use and the number of processes;
pinned memory on CUDA; workers persist when there are any."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mapsage.models import config_for_model
from mapsage.params import validate
from mapsage.training.config import build_config
from mapsage.training.loader import (
    MAX_WORKERS,
    LoaderSettings,
    auto_num_workers,
    loader_settings,
)


@pytest.mark.parametrize(("cpus", "processes", "workers"), [
    (1, 1, 0),   # one CPU: load in the training process
    (2, 1, 1),   # this machine
    (4, 1, 3),   # a Kaggle GPU machine, one GPU
    (4, 2, 1),   # the same with two GPUs (T4 x2)
    (2, 4, 0),   # more processes than CPUs
    (64, 1, MAX_WORKERS),
])
def test_workers_from_cpus_and_processes(cpus, processes, workers):
    assert auto_num_workers(processes, cpus=cpus) == workers


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity (Linux)")
def test_the_cpus_counted_are_those_the_process_may_use(repo_root):
    script = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
              "from mapsage.params import usable_cpus; from mapsage.training.loader import auto_num_workers; "
              "print(usable_cpus(), auto_num_workers(), os.cpu_count())")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=repo_root, check=True).stdout.split()
    assert out[:2] == ["1", "0"], out  # whatever os.cpu_count() says (out[2])


def test_explicit_workers_win_and_cuda_pins_memory():
    assert loader_settings(3, device="cpu", cpus=1) == LoaderSettings(3, False, True)
    assert loader_settings(0, device="cuda", cpus=8) == LoaderSettings(0, True, False)
    auto = loader_settings(None, device="cuda", processes=2, cpus=8)
    assert (auto.num_workers, auto.pin_memory, auto.persistent_workers) == (3, True, True)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_config_builder_applies_the_settings_to_every_loader(synthetic_root, tmp_path, device):
    params = validate({"data_root": str(synthetic_root), "work_dir": str(tmp_path / "w")})
    assert params.num_workers is None  # the default: decided by the machine
    cfg = build_config(config_for_model("tiny"), params, device=device)
    expected = loader_settings(None, device=device)
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        assert cfg[loader].num_workers == expected.num_workers == auto_num_workers()
        assert cfg[loader].pin_memory is (device == "cuda")
        assert cfg[loader].persistent_workers is (expected.num_workers > 0)
