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


def _write_bomb_png(path: Path, side: int) -> Path:
    """A valid 1-bit greyscale PNG of side x side pixels in a few kilobytes (a decompression
    bomb once side * side exceeds PIL.Image.MAX_IMAGE_PIXELS)."""
    import struct
    import zlib

    row = b"\x00" + bytes((side + 7) // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body)
                     + chunk(b"IEND", b""))
    return path


@pytest.fixture()
def bomb_png():
    """``bomb_png(path, side)`` writes a tiny PNG file that declares side x side pixels."""
    return _write_bomb_png

