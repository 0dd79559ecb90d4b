"""``nox -s tests_python`` runs, on every other Python, the unit tests and one notebook training
run: its pytest arguments (noxfile.ON_EVERY_PYTHON, read without importing nox) must select
that notebook test. An ``-m "not slow"`` among them once deselected it without a word."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def on_every_python(repo_root) -> tuple[str, ...]:
    tree = ast.parse((repo_root / "noxfile.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                getattr(t, "id", None) == "ON_EVERY_PYTHON" for t in node.targets):
            return tuple(ast.literal_eval(node.value))
    raise AssertionError("noxfile.py defines no ON_EVERY_PYTHON")


def test_the_every_python_arguments_select_the_notebook_run_and_the_unit_tests(repo_root):
    args = on_every_python(repo_root)
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", *args],
                          capture_output=True, text=True, timeout=600, cwd=repo_root)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    collected = done.stdout.splitlines()
    assert any("test_notebook_trains_well_above_the_untrained_baseline" in line
               for line in collected), "the notebook run is deselected"
    assert sum(line.startswith("tests/unit/") for line in collected) > 500
    assert "deselected" not in done.stdout
