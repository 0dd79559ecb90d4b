"""Crash safety: one run per work_dir, no orphaned training, and resume after the worst kills.

Everything runs the real training command on the synthetic data set; the only stand-in is the
test process itself holding a work_dir lock in the first test (the way a training run holds it).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mapsage.training.workdir_lock import LOCK_NAME, holder_of, lock_work_dir, unlock_work_dir

pytestmark = pytest.mark.slow




def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as dead: it holds no files)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)



def test_a_busy_work_dir_is_refused_before_anything_is_touched(tiny_training, tmp_path):
    work_dir = tmp_path / "run"
    work_dir.mkdir()
    in_flight = work_dir / ".iter_6.pth.k2x9q1.partial"  # the holder's save in progress
    in_flight.write_bytes(b"half a checkpoint")
    lock_work_dir(work_dir)  # this test process plays the running training
    try:
        before = _snapshot(work_dir)
        proc = tiny_training(work_dir, "resume=auto")
        assert proc.returncode == 2, proc.stderr[-3000:]
        assert "Traceback" not in proc.stderr
        assert f"is in use by another MapSage training run (pid {os.getpid()})" in proc.stderr
        assert _snapshot(work_dir) == before, "the refused run changed the work_dir"
    finally:
        unlock_work_dir(work_dir)
    assert holder_of(work_dir) is None


PARENT = """
import os, sys, threading, time
from mapsage.notebook.launch import stream, training_command
from mapsage.params import validate
threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()  # a kernel has threads
params = validate(dict(data_root=sys.argv[1], work_dir=sys.argv[2], max_iters=5000,
                       val_interval=5000, checkpoint_interval=5000, num_workers=0,
                       batch_size=2, device="cpu"))
stream(training_command(params), out=open(os.devnull, "w"))
"""


def test_training_dies_with_its_parent_and_frees_the_work_dir(tiny_training, synthetic_root,
                                                              tmp_path):
    work_dir = tmp_path / "run"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(synthetic_root), str(work_dir)])
    child = None
    try:
        child = int(_wait_for(lambda: holder_of(work_dir), 300, "the training to lock work_dir"))
        assert child != parent.pid and _alive(child)
        # a second run while it trains is refused, naming the training process
        second = tiny_training(work_dir, "resume=auto")
        assert second.returncode == 2 and f"(pid {child})" in second.stderr, second.stderr[-2000:]
        os.kill(parent.pid, signal.SIGKILL)  # `mapsage run` killed, or the kernel died
        parent.wait()
        _wait_for(lambda: not _alive(child), 30, "the orphaned training to stop")
        # the lock goes with the last process holding it (a loader worker may outlive the
        # trainer by a moment): it is released, not left for the next run to trip over
        _wait_for(lambda: holder_of(work_dir) is None, 30, "the work_dir lock to be released")
    finally:
        if child and _alive(child):
            os.kill(child, signal.SIGKILL)
        if parent.poll() is None:
            parent.kill()


def test_sigkill_during_the_final_validation_then_resume_validates_it(tiny_training,
                                                                     tmp_path):
    work_dir = tmp_path / "run"
    proc = subprocess.Popen(tiny_training.cmd(work_dir), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _wait_for(lambda: (work_dir / "iter_4.pth").exists() or proc.poll() is not None, 300,
              "the last checkpoint")
    os.kill(proc.pid, signal.SIGKILL)  # the final validation runs right after this save
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before the kill"
    assert not (work_dir / "metrics.json").exists()

    resumed = tiny_training(work_dir, "resume=auto")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "mapsage: validating iteration 4" in resumed.stdout + resumed.stderr
    metrics = json.loads((work_dir / "metrics.json").read_text())
    assert metrics["iterations"] == 4 and metrics["final"]["iteration"] == 4
    assert metrics["history"]["val"][-1]["iteration"] == 4


def test_a_finished_run_holding_only_checkpoints_resumes(finished_run, tiny_training,
                                                        tmp_path):
    work_dir = tmp_path / "run"
    work_dir.mkdir()
    for checkpoint in finished_run.glob("*.pth"):
        shutil.copy2(checkpoint, work_dir)
    resumed = tiny_training(work_dir, "resume=auto")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    metrics = json.loads((work_dir / "metrics.json").read_text())
    assert metrics["final"]["iteration"] == 4 and metrics["iterations"] == 4
    assert [v["iteration"] for v in metrics["history"]["val"]] == [4]


def test_stray_checkpoint_names_break_neither_resume_nor_the_report(finished_run,
                                                                   tiny_training, tmp_path):
    work_dir = tmp_path / "run"
    shutil.copytree(finished_run, work_dir, symlinks=True)
    (best,) = work_dir.glob("best_mIoU_iter_*.pth")
    shutil.copy2(work_dir / "iter_4.pth", work_dir / "iter_20 (copy).pth")
    shutil.copy2(best, work_dir / "best_mIoU_iter_10_old.pth")
    resumed = tiny_training(work_dir, "resume=auto")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"mapsage: resuming from {work_dir / 'iter_4.pth'}" in resumed.stdout
    metrics = json.loads((work_dir / "metrics.json").read_text())
    assert metrics["best"]["checkpoint"] == str(best)
    assert (work_dir / "iter_20 (copy).pth").is_file(), "a stray file is left alone"


def test_the_lock_file_records_the_holder(tmp_path):
    work_dir = tmp_path / "run"
    lock_work_dir(work_dir)
    try:
        assert (work_dir / LOCK_NAME).read_text().strip() == str(os.getpid())
        assert holder_of(work_dir) == str(os.getpid())
    finally:
        unlock_work_dir(work_dir)
    assert holder_of(work_dir) is None
