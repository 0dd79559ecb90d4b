"""Kaggle rehearsal: the exact notebook `mapsage build kaggle` writes, executed by papermill
against a simulated /kaggle tree (MAPSAGE_KAGGLE_ROOT), on the CPU. Its metrics must equal a
plain local run with the same parameters and seed.

The /kaggle tree is the only stand-in: input data sets are folders in one of Kaggle's real mount
layouts (``input/datasets/<owner>/<slug>`` with a doubled ``Train/Train``), outputs go to
``working/``. The notebook's own cells run unchanged: unpacking the carried code, provisioning
(here: already installed), preflight, training, report.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import papermill
import pytest

from mapsage.kaggle.build import build
from mapsage.paths import KERNELS_DIR

pytestmark = pytest.mark.slow
CPU_PARAMS = {"model": "tiny", "max_iters": 40, "val_interval": 20, "checkpoint_interval": 20,
              "batch_size": 8, "crop_size": 128, "lr": 0.002, "seed": 0, "num_workers": 2,
              "device": "cpu", "amp": False}


def test_built_kaggle_notebook_runs_like_a_local_run(synthetic_root, tmp_path, monkeypatch):
    kaggle_root = tmp_path / "kaggle"
    dataset = kaggle_root / "input" / "datasets" / "alice" / "loveda"
    for split in ("Train", "Val"):
        shutil.copytree(synthetic_root / split, dataset / split / split)  # doubled split folder
    (kaggle_root / "working").mkdir()
    bundle = build(KERNELS_DIR / "train-segformer-loveda", owner="alice", out_dir=tmp_path / "b",
                   parameters={**CPU_PARAMS, "data_root": "/kaggle/input",
                               "work_dir": "/kaggle/working/run"})
    notebook = bundle / f"{bundle.name}.ipynb"

    monkeypatch.setenv("MAPSAGE_KAGGLE_ROOT", str(kaggle_root))
    papermill.execute_notebook(str(notebook), str(kaggle_root / "working" / "executed.ipynb"),
                               kernel_name="python3", progress_bar=False,
                               cwd=str(kaggle_root / "working"))
    kaggle_metrics = json.loads((kaggle_root / "working" / "run" / "metrics.json").read_text())
    assert kaggle_metrics["environment"]["mapsage_path"].startswith("/tmp/mapsage-src-"), \
        "training ran the code carried in the notebook"

    monkeypatch.delenv("MAPSAGE_KAGGLE_ROOT")
    local = tmp_path / "local"
    args = [f"{k}={v}" for k, v in CPU_PARAMS.items()]
    subprocess.run([sys.executable, "-m", "mapsage.train", f"data_root={synthetic_root}",
                    f"work_dir={local}", *args], check=True, capture_output=True, timeout=600,
                   env={**os.environ})
    local_metrics = json.loads((local / "metrics.json").read_text())
    assert kaggle_metrics["final"] == local_metrics["final"]
    assert kaggle_metrics["history"]["train"] == local_metrics["history"]["train"]
    assert kaggle_metrics["iterations"] == local_metrics["iterations"] == 40
