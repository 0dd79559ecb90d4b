"""A long run in two Kaggle sessions, rehearsed on the CPU (MAPSAGE_KAGGLE_ROOT, as in
test_kaggle_rehearsal.py): the first session reaches its time limit, saves a checkpoint and ends
green with status ``time_limit``; the continuation kernel built from it (``--continue-from``)
restores that work_dir from the simulated kernel_sources mount, resumes and finishes at
max_iters with the iteration count and one joined history of an uninterrupted run.

The limit is triggered deterministically: ``time_limit`` is so small that the deadline has passed
at the hook's first decision, after iteration 1. Nothing sleeps.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import nbformat
import papermill
import pytest

from envcheck.session import SAFETY_MARGIN_S, SESSION_LIMIT_S, START_ENV
from mapsage.kaggle.build import build
from mapsage.paths import KERNELS_DIR

pytestmark = pytest.mark.slow
CPU_PARAMS = {"model": "tiny", "max_iters": 40, "val_interval": 20, "checkpoint_interval": 20,
              "batch_size": 8, "crop_size": 128, "lr": 0.002, "seed": 0, "num_workers": 0,
              "device": "cpu", "amp": False, "data_root": "/kaggle/input",
              "work_dir": "/kaggle/working/run"}
KERNEL = KERNELS_DIR / "train-segformer-loveda"


def _kaggle_tree(root, synthetic_root):
    for split in ("Train", "Val"):
        shutil.copytree(synthetic_root / split,
                        root / "input" / "datasets" / "alice" / "loveda" / split / split)
    (root / "working").mkdir()
    return root


def _execute(notebook, root, monkeypatch):
    monkeypatch.setenv("MAPSAGE_KAGGLE_ROOT", str(root))
    out = root / "working" / "executed.ipynb"
    papermill.execute_notebook(str(notebook), str(out), kernel_name="python3",
                               progress_bar=False, cwd=str(root / "working"))
    return nbformat.read(out, as_version=4)


def _outputs(nb, tag) -> str:
    cell = next(c for c in nb.cells if tag in c.metadata.get("tags", []))
    return "".join(o.get("text", "") for o in cell.outputs)


def test_time_limit_then_continuation_equals_one_uninterrupted_run(synthetic_root, tmp_path,
                                                                   monkeypatch):
    # session 1: the limit is reached at once
    first = build(KERNEL, owner="alice", out_dir=tmp_path / "b1",
                  parameters={**CPU_PARAMS, "time_limit": 0.001})
    k1 = _kaggle_tree(tmp_path / "k1", synthetic_root)
    nb1 = _execute(first / f"{first.name}.ipynb", k1, monkeypatch)  # raises if a cell fails
    # the results cell says so (the notebook's last cell is the optional prediction section)
    outputs = json.dumps([c.outputs for c in nb1.cells if c.cell_type == "code"])
    assert "Stopped at the time limit after 1 of 40 iterations" in outputs
    stage1 = json.loads((k1 / "working" / "run" / "metrics.json").read_text())
    assert stage1["status"] == "time_limit"
    assert stage1["iterations"] == stage1["time_limit"]["iteration"] == 1
    assert stage1["time_limit"]["max_iters"] == 40
    assert (k1 / "working" / "run" / "iter_1.pth").is_file()

    # session 2: Kaggle mounts session 1's /kaggle/working under /kaggle/input/<slug>/
    second = build(KERNEL, owner="alice", out_dir=tmp_path / "b2", parameters=CPU_PARAMS,
                   continue_from=f"alice/{first.name}")
    meta = json.loads((second / "kernel-metadata.json").read_text())
    assert f"alice/{first.name}" in meta["kernel_sources"]
    k2 = _kaggle_tree(tmp_path / "k2", synthetic_root)
    shutil.copytree(k1 / "working", k2 / "input" / first.name)
    monkeypatch.setenv(START_ENV, str(time.time()))  # a fresh 12 h session: its default limit
    nb = _execute(second / f"{second.name}.ipynb", k2, monkeypatch)
    assert "stopped with status 'time_limit' at iteration 1 of 40" in _outputs(nb, "mapsage-continue")
    joined = json.loads((k2 / "working" / "run" / "metrics.json").read_text())
    assert joined["status"] == "finished"
    assert len(list((k2 / "working" / "run").glob("2*/vis_data/scalars.json"))) == 2

    # the same run without interruption
    monkeypatch.delenv("MAPSAGE_KAGGLE_ROOT")
    local = tmp_path / "local"
    args = [f"{k}={v}" for k, v in CPU_PARAMS.items() if k not in ("data_root", "work_dir")]
    subprocess.run([sys.executable, "-m", "mapsage.train", f"data_root={synthetic_root}",
                    f"work_dir={local}", *args], check=True, capture_output=True, timeout=900,
                   env={**os.environ})
    whole = json.loads((local / "metrics.json").read_text())
    assert whole["status"] == "finished"
    assert joined["iterations"] == whole["iterations"] == 40
    train_iterations = [r["iteration"] for r in joined["history"]["train"]]
    assert train_iterations == [r["iteration"] for r in whole["history"]["train"]]
    # session 1 validated once at its stop (it had no validation yet), then 20 and 40 as usual
    assert [r["iteration"] for r in joined["history"]["val"]] == \
        [1] + [r["iteration"] for r in whole["history"]["val"]]
    assert joined["final"]["iteration"] == whole["final"]["iteration"] == 40


def test_kaggle_session_default_stops_a_run_started_at_the_end_of_its_session(synthetic_root,
                                                                              tmp_path):
    """time_limit=None on Kaggle: the session's limit minus the margin minus the time spent.
    A session that started (limit - margin) ago has no time left: stop after iteration 1."""
    root = _kaggle_tree(tmp_path / "k", synthetic_root)
    started = time.time() - (SESSION_LIMIT_S - SAFETY_MARGIN_S)
    env = {**os.environ, "MAPSAGE_KAGGLE_ROOT": str(root), START_ENV: str(started)}
    args = [f"{k}={v}" for k, v in CPU_PARAMS.items() if k not in ("data_root", "work_dir")]
    proc = subprocess.run([sys.executable, "-m", "mapsage.train", f"data_root={synthetic_root}",
                           f"work_dir={root / 'working' / 'run'}", *args],
                          capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Kaggle session limit 12 h" in proc.stdout + proc.stderr
    metrics = json.loads((root / "working" / "run" / "metrics.json").read_text())
    assert metrics["status"] == "time_limit" and metrics["iterations"] == 1


def test_every_process_of_a_distributed_run_stops_at_the_same_iteration(synthetic_root,
                                                                        tmp_path):
    """torchrun with 2 CPU processes (gloo), as the notebook launches it: rank 0 decides and
    broadcasts, every rank leaves the loop at iteration 1 and nobody waits forever."""
    from mapsage.notebook.launch import training_command
    from mapsage.params import validate

    params = validate({**CPU_PARAMS, "data_root": str(synthetic_root),
                       "work_dir": str(tmp_path / "run"), "gpus": 2, "time_limit": 0.001})
    proc = subprocess.run(training_command(params, processes=2), capture_output=True, text=True,
                          timeout=900, env={k: v for k, v in os.environ.items()
                                            if k != "MAPSAGE_KAGGLE_ROOT"})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["status"] == "time_limit" and metrics["iterations"] == 1
    assert metrics["batch"]["processes"] == 2
