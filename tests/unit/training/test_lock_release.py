"""A run that ends leaves no ``.mapsage.lock`` with a dead pid behind (issue #21), and removing
the file keeps one run per work_dir: a process that opened the file just before its holder
removed it must not share the folder with one that creates the new file."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys

import pytest

from mapsage.errors import WorkDirBusy
from mapsage.training.workdir_lock import (
    LOCK_NAME,
    abandon_work_dir,
    holder_of,
    lock_work_dir,
    unlock_work_dir,
)

HOLD = """
import sys, time
from mapsage.training.workdir_lock import lock_work_dir
lock_work_dir(sys.argv[1])
print("locked", flush=True)
{tail}
"""


def _python(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                            stdin=subprocess.PIPE, text=True)


def test_releasing_removes_the_lock_file(tmp_path):
    lock_work_dir(tmp_path)
    assert (tmp_path / LOCK_NAME).read_text() == f"{os.getpid()}\n"
    unlock_work_dir(tmp_path)
    assert not (tmp_path / LOCK_NAME).exists()
    assert holder_of(tmp_path) is None
    lock_work_dir(tmp_path)  # and the folder can be taken again
    unlock_work_dir(tmp_path)


def test_a_process_that_exits_leaves_no_lock_file(tmp_path):
    proc = _python(HOLD.format(tail=""), str(tmp_path))
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "locked" in out
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_busy_work_dir_is_still_refused_and_its_lock_still_released(tmp_path):
    proc = _python(HOLD.format(tail="sys.stdin.readline()"), str(tmp_path))
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(WorkDirBusy, match=f"pid {proc.pid}"):
            lock_work_dir(tmp_path)
        assert holder_of(tmp_path) == str(proc.pid)
    finally:
        proc.communicate("\n", timeout=120)
    assert proc.returncode == 0 and not (tmp_path / LOCK_NAME).exists()
    lock_work_dir(tmp_path)
    unlock_work_dir(tmp_path)


def test_the_removed_file_being_free_does_not_free_the_folder(tmp_path):
    """B opened the lock file, then A released (removed) it and C took the new file: a flock
    on the old file now succeeds, yet taking the folder goes by the file at the name (which
    lock_work_dir also checks after its own flock) and is refused while C holds it."""
    lock_work_dir(tmp_path)  # A
    stale = os.open(tmp_path / LOCK_NAME, os.O_RDWR)  # B, before A's release
    try:
        unlock_work_dir(tmp_path)
        holder = _python(HOLD.format(tail="sys.stdin.readline()"), str(tmp_path))  # C
        try:
            assert holder.stdout.readline().strip() == "locked"
            fcntl.flock(stale, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the old file is free...
            with pytest.raises(WorkDirBusy, match=f"pid {holder.pid}"):  # ...the folder is not
                lock_work_dir(tmp_path)
        finally:
            holder.communicate("\n", timeout=120)
    finally:
        os.close(stale)


def test_a_refused_run_leaves_the_folder_it_created_empty_and_gone(tmp_path):
    work_dir = tmp_path / "new"
    lock_work_dir(work_dir)
    abandon_work_dir(work_dir)
    assert not work_dir.exists()
    existing = tmp_path / "existing"
    existing.mkdir()
    lock_work_dir(existing)
    abandon_work_dir(existing)
    assert existing.is_dir() and not any(existing.iterdir())
