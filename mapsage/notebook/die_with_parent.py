"""Run a command that dies with the process that started it (Linux), e.g. the notebook kernel.

``python -m mapsage.notebook.die_with_parent PID -- CMD...`` asks the kernel to send SIGTERM to
this process when its parent dies (``prctl(PR_SET_PDEATHSIG)``), checks that the parent is still
PID (it may have died before the request), then replaces itself with CMD. The request survives
``exec``, so CMD (``python -m mapsage.train``, or torchrun, which on SIGTERM stops its workers)
never outlives a killed ``mapsage run`` or a dead Jupyter kernel and keeps writing into a
work_dir that a rerun then shares.

A wrapper that execs, rather than ``subprocess``'s ``preexec_fn``, because the Jupyter kernel
that starts training has threads, and ``preexec_fn`` is not safe in a threaded process.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def wrap(cmd: list[str]) -> list[str]:
    """``cmd`` run through this guard on Linux; unchanged elsewhere (no PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux"):
        return cmd
    return [sys.executable, "-m", __name__, str(os.getpid()), "--", *cmd]


def die_with_parent(parent_pid: int, sig: int = signal.SIGTERM) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(128 + sig)


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        sys.exit("usage: python -m mapsage.notebook.die_with_parent PARENT_PID -- CMD...")
    die_with_parent(int(argv[0]))
    os.execvp(argv[2], argv[2:])


if __name__ == "__main__":
    main(sys.argv[1:])
