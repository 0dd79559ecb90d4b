"""`mapsage predict --out` naming an existing file is refused as one paragraph before a model is
loaded (issue 20: it was a FileExistsError traceback after the model had loaded)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mapsage.errors import MapSageError
from mapsage.training.predict import check_out


def test_out_that_is_a_file_is_refused(tmp_path):
    out = tmp_path / "labels"
    out.write_text("not a folder")
    with pytest.raises(MapSageError, match="is a file, not a folder"):
        check_out(out, [out / "1.png"], [], overwrite=True)


def test_the_command_refuses_it_without_a_traceback(tmp_path, synthetic_root):
    out = tmp_path / "labels"
    out.write_text("not a folder")
    proc = subprocess.run([sys.executable, "-m", "mapsage", "predict",
                           str(tmp_path / "missing.pth"), str(synthetic_root / "Val"),
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "is a file, not a folder" in proc.stderr
    assert out.read_text() == "not a folder"
