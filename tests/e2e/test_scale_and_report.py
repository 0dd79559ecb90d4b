"""Issue 6: a 2-process CPU run through the notebook's launcher, report files (the launcher's
command, AMP choices and the distributed config are tests/unit/training/test_scale_config.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mapsage.notebook.launch import run_training
from mapsage.params import validate

pytestmark = pytest.mark.slow


def test_two_process_cpu_run_through_the_notebook_launcher(synthetic_root, tmp_path):
    work_dir = tmp_path / "dist"
    metrics = run_training(validate({
        "data_root": str(synthetic_root), "work_dir": str(work_dir), "gpus": 2, "max_iters": 20,
        "val_interval": 20, "checkpoint_interval": 20, "num_workers": 0, "batch_size": 4}))
    assert metrics["batch"]["processes"] == 2
    assert metrics["batch"]["effective_batch_size"] == 8 == 2 * metrics["batch"]["batch_per_process"]
    assert metrics["batch"]["lr_effective"] == pytest.approx(0.004 * 8 / 16)
    assert len(list(work_dir.glob("metrics.json"))) == 1
    assert sorted(p.name for p in work_dir.glob("*.pth")) == ["best_mIoU_iter_20.pth",
                                                               "iter_20.pth"]
    logs = "\n".join(p.read_text() for p in work_dir.glob("*/*.log"))
    assert "effective batch size 8 = 4 per process x 2 process(es)" in logs
    assert "Distributed launcher: pytorch" in logs


def test_report_pictures_and_numbers_match_metrics(synthetic_root, tmp_path):
    work_dir = tmp_path / "run"
    metrics = run_training(validate({
        "data_root": str(synthetic_root), "work_dir": str(work_dir), "max_iters": 20,
        "val_interval": 10, "checkpoint_interval": 10, "num_workers": 0}))
    for name in ("training_curve.png", "confusion_matrix.png", "predictions.png"):
        with Image.open(work_dir / name) as picture:
            assert picture.format == "PNG" and min(picture.size) > 200
            assert len(np.unique(np.asarray(picture.convert("L")))) > 10, "not a blank image"
    saved = json.loads((work_dir / "metrics.json").read_text())
    assert saved == metrics
    report = (work_dir / "report.md").read_text()
    assert f"**mIoU {saved['mIoU']:.2f}**" in report
    for cls, iou in saved["per_class_IoU"].items():
        assert f"| {cls} | {iou:.2f} |" in report
    counts = saved["confusion_matrix"]["counts"]
    assert len(counts) == 7 and all(len(row) == 7 for row in counts)
    accuracy = sum(counts[i][i] for i in range(7)) / sum(map(sum, counts)) * 100
    assert accuracy == pytest.approx(saved["aAcc"], abs=0.01)

    compare = subprocess.run([sys.executable, "-m", "mapsage", "compare", str(work_dir),
                              str(work_dir), "--out", str(tmp_path / "cmp")],
                             capture_output=True, text=True, timeout=120)
    assert compare.returncode == 0, compare.stderr
    assert "| **mIoU** |" in compare.stdout and "+0.00" in compare.stdout
    assert (tmp_path / "cmp" / "compare_curves.png").is_file()
