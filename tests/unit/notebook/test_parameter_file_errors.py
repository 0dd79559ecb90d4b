"""`mapsage run -f FILE` with a file that is not a YAML mapping: a clear error, exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mapsage.errors import MapSageError
from mapsage.notebook.execute import load_parameter_file


@pytest.mark.parametrize(("text", "message"), [
    ("max_iters: [1, 2\n", "is not valid YAML at line 2"),
    ("max_iters: 20\n  lr: 0.1\n", "is not valid YAML at line 2"),
    ("key: @value\n", "is not valid YAML at line 1"),
    ("- max_iters\n- 20\n", "must hold a mapping of parameter: value, got list"),
    ("1: 2\n", "1 is not a parameter name"),
    ("max_iters: 200\nmax_iters: 20\n", "gives 'max_iters' twice, at line 1 and again at line 2"),
])
def test_malformed_parameter_files_are_named(tmp_path, text, message):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(MapSageError, match=message):
        load_parameter_file(path)


def test_binary_parameter_file_is_refused(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(MapSageError, match="is not valid YAML"):
        load_parameter_file(path)


def test_mapsage_run_refuses_before_a_kernel_starts(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("max_iters: [1, 2\n")
    proc = subprocess.run([sys.executable, "-m", "mapsage", "run", "-f", str(path)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "is not valid YAML" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]
