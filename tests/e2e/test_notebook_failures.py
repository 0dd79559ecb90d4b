"""A failing cell: papermill exits non-zero, the executed notebook is written with the error,
and `mapsage run` says which cell failed and why."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

pytestmark = pytest.mark.slow


def test_failing_training_cell(tmp_path):
    output = tmp_path / "executed.ipynb"
    proc = subprocess.run(
        [sys.executable, "-m", "mapsage", "run", "--quiet", "-o", str(output),
         "-p", "data_root", str(tmp_path / "no-such-data"), "-p", "work_dir", str(tmp_path / "w")],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1
    assert "failed with TrainingFailed" in proc.stderr
    assert "'from mapsage.notebook.launch import run_training'" in proc.stderr
    assert "does not exist" in proc.stderr and str(output) in proc.stderr
    nb = nbformat.read(output, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert len(errors) == 1 and errors[0].ename == "TrainingFailed"


def test_papermill_itself_exits_non_zero(tmp_path, repo_root):
    output = tmp_path / "executed.ipynb"
    proc = subprocess.run(
        [sys.executable, "-m", "papermill", str(repo_root / "mapsage/notebooks/train_segformer_loveda.ipynb"),
         str(output), "-p", "data_root", str(tmp_path / "none"), "-p", "work_dir",
         str(tmp_path / "w")], capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0 and output.is_file()
    assert "TrainingFailed" in output.read_text()


def test_a_dead_kernel_names_the_cell_and_leaves_the_error_in_the_notebook(tmp_path, repo_root):
    notebook, output = tmp_path / "dies.ipynb", tmp_path / "executed.ipynb"
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("print('before')"),
                nbformat.v4.new_code_cell("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
                nbformat.v4.new_code_cell("print('never')")]
    nbformat.write(nb, notebook)
    proc = subprocess.run([sys.executable, "-m", "mapsage", "run", str(notebook), "--quiet",
                           "-o", str(output)], capture_output=True, text=True, timeout=300,
                          cwd=repo_root)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "code cell 2 ('import os, signal') failed with DeadKernelError" in proc.stderr
    assert "kernel died while this cell ran" in proc.stderr and str(output) in proc.stderr
    executed = nbformat.read(output, as_version=4)
    assert executed.cells[0].outputs[0].text == "before\n"
    (error,) = executed.cells[1].outputs
    assert error.output_type == "error" and error.ename == "DeadKernelError"
    assert executed.cells[1].metadata.papermill.status == "failed"
    assert executed.cells[2].outputs == []
