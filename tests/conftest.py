"""Shared fixtures. Everything here runs the real stack: torch, mmcv, mmengine, mmseg, papermill."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    """The demo's synthetic LoveDA-layout data set (default spec), generated once per session."""
    from mapsage.data.synth import generate

    return generate(tmp_path_factory.mktemp("data") / "synthetic-loveda", progress=None)


@pytest.fixture()
def in_tmp(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def pytest_configure(config):
    # keep the kernel and training subprocesses on the CPU and quiet about threads
    os.environ.setdefault("OMP_NUM_THREADS", "2")
