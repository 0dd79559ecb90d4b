"""The tracking parameter in a real run: tensorboard (the default) leaves mmengine's event files
in work_dir; wandb without a key is refused before training."""

from __future__ import annotations

import os
import subprocess

import pytest

pytestmark = pytest.mark.slow


def test_default_tracking_writes_tensorboard_events(tiny_training, tmp_path):
    work_dir = tmp_path / "run"
    proc = subprocess.run(
        [*tiny_training.cmd(work_dir), "max_iters=2", "val_interval=2", "checkpoint_interval=2"],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    events = list(work_dir.glob("*/vis_data/events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0, sorted(p.name for p in work_dir.rglob("*"))


def test_wandb_without_a_key_is_refused_before_training(tiny_training, tmp_path):
    work_dir = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "WANDB_API_KEY"}
    proc = subprocess.run([*tiny_training.cmd(work_dir), "tracking=wandb"], capture_output=True,
                          text=True, timeout=300, env=env)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "WANDB_API_KEY" in proc.stderr and "Traceback" not in proc.stderr
    assert not list(work_dir.glob("**/*.pth")) and not (work_dir / "metrics.json").exists()
