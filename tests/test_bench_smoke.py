"""Each benchmark script runs with --quick and prints a table (numbers are not asserted)."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPTS = ["preflight_latency", "data_pipeline", "train_speed", "notebook_overhead", "setup_time"]


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_runs_quick(script, repo_root, tmp_path):
    results = tmp_path / "RESULTS.md"
    proc = subprocess.run([sys.executable, f"bench/{script}.py", "--quick", "--results",
                           str(results)], cwd=repo_root, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.lstrip().startswith("|") and "|---|" in proc.stdout
    text = results.read_text()
    assert "**Machine:**" in text and "**Method:**" in text
