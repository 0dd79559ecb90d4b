"""Checkpoints written through the atomic backend get the permissions of a plain write (the
user's umask), not mkstemp's 0600."""

from __future__ import annotations

import os
import stat

import pytest

from mapsage.training.checkpoint.atomic import AtomicLocalBackend, current_umask


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_checkpoint_mode_follows_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        assert current_umask() == umask
        AtomicLocalBackend().put(b"weights", tmp_path / "iter_2.pth")
        (tmp_path / "plain").write_bytes(b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "iter_2.pth").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "plain").stat().st_mode) == mode
