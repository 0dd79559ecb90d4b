"""``mapsage check-config``'s exit codes, from two real processes (over 5 s together): 1 on the
original notebook's config, 0 on the tiny model's (the checks themselves are
tests/unit/training/test_config_check.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mapsage.models import MODEL_CONFIGS
from mapsage.paths import CONFIG_DIR

pytestmark = pytest.mark.slow


def test_cli_exit_codes(repo_root):
    bad = subprocess.run([sys.executable, "-m", "mapsage", "check-config",
                          str(repo_root / "tests/fixtures/original_kaggle_config.py")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "4 error(s), 1 warning(s)" in bad.stdout
    good = subprocess.run([sys.executable, "-m", "mapsage", "check-config",
                           str(CONFIG_DIR / MODEL_CONFIGS["tiny"])],
                          capture_output=True, text=True, timeout=120)
    assert good.returncode == 0 and "0 error(s), 0 warning(s)" in good.stdout
