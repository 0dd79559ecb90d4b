"""Each benchmark script runs with --quick, prints a table and appends a section to the results
file it is given (a temporary one: bench/RESULTS.md is not touched). Numbers are not asserted:
benchmarks are not tests, and this machine is shared."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

SCRIPTS = ["bench_preflight", "bench_setup", "bench_data_pipeline", "bench_train_speed",
           "bench_notebook_overhead", "bench_startup"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_runs_quick(script, repo_root, tmp_path):
    results = tmp_path / "RESULTS.md"
    proc = subprocess.run([sys.executable, f"bench/{script}.py", "--quick", "--results",
                           str(results)], cwd=repo_root, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines and lines[0].startswith("| ") and lines[1].startswith("|---|"), proc.stdout
    text = results.read_text()
    assert text.startswith("# MapSage benchmark results")
    for part in ("(--quick)", "**Machine:**", "**Load**", "**Method:**", "|---|"):
        assert part in text
