"""The committed .ipynb is exactly what its jupytext source generates, and the check catches drift."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from mapsage.notebook import render as notebook
from mapsage.paths import NOTEBOOK_DIR, NOTEBOOK_SOURCES

TRAINING = NOTEBOOK_SOURCES / "train_segformer_loveda.py"


def test_committed_notebooks_are_in_sync_with_their_sources():
    sources = notebook.sources()
    assert [s.name for s in sources] == ["kaggle_bootstrap.py", "train_segformer_loveda.py"]
    for source in sources:
        assert notebook.check(source) == []


def test_generation_is_byte_stable(tmp_path):
    source = TRAINING
    copy = tmp_path / source.name
    shutil.copy(source, copy)
    first = notebook.build(copy).read_bytes()
    second = notebook.build(copy).read_bytes()
    assert notebook.target_for(copy) == copy.with_suffix(".ipynb"), "a copy builds beside itself"
    assert notebook.target_for(source) == NOTEBOOK_DIR / "train_segformer_loveda.ipynb"
    assert first == second == notebook.target_for(source).read_bytes()


def test_notebook_carries_kernelspec_language_and_parameters_tag():
    nb = json.loads(notebook.target_for(TRAINING).read_text())
    assert nb["metadata"]["kernelspec"] == {"display_name": "Python 3", "language": "python",
                                            "name": "python3"}
    assert nb["metadata"]["language_info"]["name"] == "python"
    tagged = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1
    assert all(c["id"] for c in nb["cells"]) and len({c["id"] for c in nb["cells"]}) == len(nb["cells"])


def test_check_reports_a_difference_and_the_cli_exits_non_zero(tmp_path):
    source = TRAINING
    copy = tmp_path / source.name
    shutil.copy(source, copy)
    notebook.build(copy)
    copy.write_text(copy.read_text().replace("max_iters = None", "max_iters = 301"))
    problems = notebook.check(copy)
    assert problems and "out of sync" in problems[0]
    assert any("max_iters = 301" in line for line in problems)
    proc = subprocess.run([sys.executable, "-m", "mapsage", "notebook", "check", str(copy)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "out of sync" in proc.stdout


def test_missing_notebook_is_reported(tmp_path):
    source = TRAINING
    copy = tmp_path / source.name
    shutil.copy(source, copy)
    assert "is missing" in notebook.check(copy)[0]
