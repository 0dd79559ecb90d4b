"""A training process's multi-line error reaches the notebook's (and ``mapsage run``'s) summary
whole: the problems after "nothing was trained or overwritten:" are not cut off (issue 21)."""

from __future__ import annotations

import shutil

import pytest

from mapsage.errors import TrainingFailed
from mapsage.notebook.launch import run_training
from mapsage.params import validate


def test_data_problems_are_listed_in_the_failure(synthetic_root, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(synthetic_root, data)
    broken = sorted((data / "Train").glob("*/masks_png/*.png"))[0]
    broken.write_bytes(b"not a png")
    params = validate({"data_root": str(data), "work_dir": str(tmp_path / "run"),
                       "max_iters": 2, "num_workers": 0})
    with pytest.raises(TrainingFailed) as caught:
        run_training(params)
    message = str(caught.value)
    assert "nothing was trained or overwritten:" in message
    problems = message.split("nothing was trained or overwritten:", 1)[1]
    assert broken.name in problems, message


@pytest.mark.slow
def test_mapsage_run_summary_lists_the_problem(synthetic_root, tmp_path):
    """The closing summary of ``mapsage run`` (the failed cell's error) names the problem."""
    import subprocess
    import sys

    data = tmp_path / "data"
    shutil.copytree(synthetic_root, data)
    broken = sorted((data / "Val").glob("*/masks_png/*.png"))[0]
    broken.write_bytes(b"not a png")
    proc = subprocess.run(
        [sys.executable, "-m", "mapsage", "run", "--quiet", "-o", str(tmp_path / "out.ipynb"),
         "-p", "data_root", str(data), "-p", "work_dir", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr[-3000:]
    summary = proc.stderr.split("nothing was trained or overwritten:", 1)
    assert len(summary) == 2 and broken.name in summary[1], proc.stderr[-3000:]
