"""A wheelhouse hit installs mmcv offline into a fresh venv, with real pip (the wheelhouse's
lookup and the provisioning plan are tests/unit/provision/test_wheelhouse_provision.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mapsage.provision import mmcv as provision
from mapsage.provision import wheelhouse

pytestmark = pytest.mark.slow

HERE = provision.probe_torch()  # this environment's torch: a CPU build, or PyPI's CUDA one
HERE_OPS = provision.ops_target(HERE)


@pytest.fixture(scope="module")
def cached_wheel() -> wheelhouse.CachedWheel:
    """The mmcv wheel this environment was provisioned from (setup stores it in the wheelhouse)."""
    hit, refused = wheelhouse.find(provision.wheel_key(HERE, HERE_OPS), [wheelhouse.default_root()])
    if hit is None:
        pytest.fail("no mmcv wheel for this torch in the wheelhouse; run `python -m "
                    f"mapsage.provision` first. Refused: {refused}")
    return hit


def test_wheelhouse_hit_installs_offline_into_a_fresh_venv(cached_wheel, tmp_path):
    house = tmp_path / "house"
    wheelhouse.store(cached_wheel.wheel, cached_wheel.key, house)
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    python = str(tmp_path / "venv" / "bin" / "python")
    steps, notes = provision.plan(HERE, HERE_OPS, installed=(False, "fresh venv"), roots=[house],
                                  jobs=2,
                                  build_dir=tmp_path, python=python)
    assert [s.strategy for s in steps] == ["wheelhouse"]
    assert "--no-index" in steps[0].command
    provision.run_step(steps[0], log=lambda *_: None)
    version = subprocess.run([python, "-m", "pip", "show", "mmcv"], capture_output=True,
                             text=True, check=True).stdout
    assert "Version: 2.1.0" in version
