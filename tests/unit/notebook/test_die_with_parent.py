"""A command started by ``launch.stream`` dies when the process that started it is killed
(the training-sized version is tests/e2e/test_crash_safety.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="PR_SET_PDEATHSIG is Linux's")

PARENT = """
import sys, threading, time
from mapsage.notebook.launch import stream
threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()  # a kernel has threads
stream(["sh", "-c", f"echo $$ > {sys.argv[1]}; exec sleep 600"])
"""


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has ended; it only waits for its reaper


def test_the_child_dies_with_its_parent(tmp_path):
    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(pid_file)],
                              stdout=subprocess.DEVNULL)
    child = None
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.is_file() and pid_file.read_text().strip()):
            assert parent.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        child = int(pid_file.read_text())
        assert _running(child)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while _running(child):
            assert time.monotonic() < deadline, "the child outlived its parent"
            time.sleep(0.05)
    finally:
        if child and _running(child):
            os.kill(child, signal.SIGKILL)
