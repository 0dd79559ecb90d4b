"""``mapsage run`` (the notebook executed) on data with a broken mask: its closing summary names
the problem whole (issue 21; the in-process check is tests/unit/notebook/test_failure_summary.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_mapsage_run_summary_lists_the_problem(synthetic_root, tmp_path):
    """The closing summary of ``mapsage run`` (the failed cell's error) names the problem."""
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
