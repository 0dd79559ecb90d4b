"""envcheck's probe stops an import that hangs: it waits out its 30 s timeout (so it is slow by
design) and still reports what imported before the hang (the other probe outcomes are
tests/unit/envcheck/test_envcheck_real.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

import envcheck

pytestmark = pytest.mark.slow


def _shadow(tmp_path: Path, module: str, code: str) -> Path:
    """A work dir whose ``module.py`` shadows the real package for the probe (cwd on sys.path,
    as in a notebook kernel)."""
    (tmp_path / f"{module}.py").write_text(code)
    return tmp_path


def test_hanging_import_times_out(tmp_path):
    # the timeout leaves room for torch, mmcv and mmengine to import on a loaded machine
    work = _shadow(tmp_path, "mmseg", "import time\ntime.sleep(600)\n")
    report = envcheck.run("local", work_dir=work, timeout=30)
    timeout = next(f for f in report.findings if f.id == "probe.timeout")
    assert "stopped after 30 s while running `import mmseg`" in timeout.found
    assert report.timings["probe_s"] < 600, "stopped, not waited out"
    # what ran before the hang is still known
    assert report.facts["torch"]["version"] and report.facts["mmcv"]["ext_loaded"]
