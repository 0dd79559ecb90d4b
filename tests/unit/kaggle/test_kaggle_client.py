"""mapsage build kaggle / push with a Kaggle client older than 2.x (Python 3.10's lock pins 1.7)
stop with one paragraph, exit 2, no traceback; with 2.x they proceed."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

from mapsage.kaggle.client import REQUIRED_MAJOR, require_client


def test_the_client_in_this_environment_is_accepted_or_refused_clearly(tmp_path):
    major = int(metadata.version("kaggle").split(".")[0])
    proc = subprocess.run([sys.executable, "-m", "mapsage", "build", "kaggle", "--owner", "alice",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True,
                          timeout=600)
    if major >= REQUIRED_MAJOR:
        require_client()
        assert proc.returncode == 0, proc.stderr[-2000:]
    else:
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert f"need the official Kaggle client {REQUIRED_MAJOR}.x" in proc.stderr
        assert "Python >= 3.11" in proc.stderr
        assert not (tmp_path / "out").exists()
