"""A run killed with SIGKILL resumes from its last checkpoint and finishes; saves are atomic."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mapsage.training.checkpoint.atomic import AtomicLocalBackend
from mapsage.training.checkpoint.safe_load import check_checkpoint

pytestmark = pytest.mark.slow
ARGS = ["max_iters=60", "val_interval=20", "checkpoint_interval=20", "num_workers=0",
        "batch_size=4"]


def _cmd(data, work_dir, *extra):
    return [sys.executable, "-m", "mapsage.train", f"data_root={data}", f"work_dir={work_dir}",
            *ARGS, *extra]


def test_sigkill_mid_run_then_resume_auto_finishes(synthetic_root, tmp_path):
    work_dir = tmp_path / "run"
    proc = subprocess.Popen(_cmd(synthetic_root, work_dir), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (work_dir / "iter_40.pth").exists():
        assert proc.poll() is None, "training ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (work_dir / "iter_60.pth").exists(), "killed before the end"
    assert not (work_dir / "metrics.json").exists()

    resumed = subprocess.run(_cmd(synthetic_root, work_dir, "resume=auto"), capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"mapsage: resuming from {work_dir / 'iter_40.pth'}" in resumed.stdout
    assert "resumed epoch: 0, iter: 40" in resumed.stdout + resumed.stderr
    metrics = json.loads((work_dir / "metrics.json").read_text())
    assert metrics["iterations"] == 60 and metrics["final"]["iteration"] == 60
    # the evaluation at 40 may or may not have been logged before the kill
    evaluated = [v["iteration"] for v in metrics["history"]["val"]]
    assert evaluated[0] == 20 and evaluated[-1] == 60 and evaluated == sorted(set(evaluated))
    check_checkpoint(work_dir / "iter_60.pth")


def test_truncated_newest_checkpoint_is_skipped(synthetic_root, tmp_path):
    work_dir = tmp_path / "run"
    first = subprocess.run(_cmd(synthetic_root, work_dir, "max_iters=40"), capture_output=True,
                           text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    newest = work_dir / "iter_40.pth"
    newest.write_bytes(newest.read_bytes()[:5000])
    # what a kill in the middle of an atomic save leaves behind: the temporary file only
    unfinished = work_dir / ".iter_40.pth.k2x9q1.partial"
    unfinished.write_bytes(b"half a checkpoint")
    # the same max_iters: resuming with another schedule length is refused (test_resume_security)
    resumed = subprocess.run(_cmd(synthetic_root, work_dir, "max_iters=40", "resume=auto"),
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert not unfinished.exists()
    assert f"mapsage: removed {unfinished.name}, an unfinished checkpoint save" in resumed.stdout
    assert "skipping iter_40.pth for resume" in resumed.stdout
    assert "resumed epoch: 0, iter: 20" in resumed.stdout + resumed.stderr
    assert json.loads((work_dir / "metrics.json").read_text())["iterations"] == 40


def test_a_failed_save_never_replaces_the_file(tmp_path, monkeypatch):
    target = tmp_path / "iter_20.pth"
    backend = AtomicLocalBackend()
    backend.put(b"complete checkpoint", target)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed during save")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        backend.put(b"half", target)
    assert target.read_bytes() == b"complete checkpoint"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["iter_20.pth"], "no temp file left"


def test_training_writes_checkpoints_through_the_atomic_backend(synthetic_root, tmp_path):
    work_dir = tmp_path / "run"
    proc = subprocess.run(_cmd(synthetic_root, work_dir, "max_iters=20"), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dumped = next(work_dir.glob("*.py")).read_text()
    assert "backend_args=dict(backend='mapsage_atomic_local')" in dumped
    assert "'mapsage.training.plugins'" in dumped  # custom_imports: the dumped config works alone
    assert sorted(p.name for p in work_dir.glob("*.pth")) == ["best_mIoU_iter_20.pth", "iter_20.pth"]
    assert not list(Path(work_dir).glob(".*partial"))


def test_sigkill_during_a_save_leaves_the_previous_checkpoint_whole(tmp_path):
    import torch

    from mapsage.training.checkpoint.atomic import remove_partial_writes

    target = tmp_path / "iter_20.pth"
    torch.save({"state_dict": {"w": torch.ones(3)}}, target)
    before = target.read_bytes()
    # mmengine's own save_checkpoint, through the backend the configs select, of ~100 MB
    code = ("import torch\n"
            "from mmengine.runner.checkpoint import save_checkpoint\n"
            "from mapsage.training.checkpoint.atomic import BACKEND\n"
            "big = {'state_dict': {'w': torch.ones(25_000_000)}}\n"
            f"save_checkpoint(big, {str(target)!r}, backend_args=dict(backend=BACKEND))\n")
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".iter_20.pth.*.partial")):
        assert proc.poll() is None, "the save finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.001)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the save (about 0.3 s) ended before the kill landed"
    assert target.read_bytes() == before, "the earlier checkpoint was replaced or truncated"
    check_checkpoint(target)
    (partial,) = remove_partial_writes(tmp_path)
    assert partial.name.startswith(".iter_20.pth.") and not partial.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["iter_20.pth"]
