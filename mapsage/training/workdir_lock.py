"""One run per work_dir: the training process holds an exclusive lock on it for its whole life.

The lock is ``fcntl.flock`` on ``<work_dir>/.mapsage.lock``, which also records the holder's pid.
The kernel releases it when the process ends, however it ends (SIGKILL included), so a stale
file never blocks a later run. A process that ends through Python's exit (a finished run, a
refused or failed one) also removes the file, so a run leaves no dead pid behind; one killed
outright (SIGKILL, the out-of-memory killer) leaves it, harmlessly. The file is removed while
the lock is still held, and a process that takes the lock checks that the name still leads to
the file it locked (else it tries again on the new one): a run that opened the old file just
before its removal never shares the work_dir with one that created the new file. Under torchrun rank 0 holds it for the group. A symbolic link at
that name is refused, never opened (``O_NOFOLLOW``): the lock file is written in place (the pid),
and through a link that would change a file outside the work_dir. A second run into
a busy work_dir is refused before it touches anything there: no ``.partial`` leftovers removed,
no checkpoint, log or config written.
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import os
from pathlib import Path

from mapsage.artefacts import LOCK
from mapsage.errors import InputError, WorkDirBusy
from mapsage.safe_write import link_message

LOCK_NAME = LOCK
_held: dict[Path, int] = {}  # work_dir -> open descriptor, kept until the process exits
_created: set[Path] = set()  # work_dirs this process created to lock them
_owners: dict[Path, int] = {}  # work_dir -> pid that locked it: a forked child never removes it
ATTEMPTS = 20  # the lock file replaced under us this often in a row: give up (never seen)


def holder_of(work_dir: str | Path) -> str | None:
    """The pid recorded by the run holding ``work_dir``'s lock (None when it is free)."""
    path = Path(work_dir) / LOCK_NAME
    if path.is_symlink() or not path.is_file():
        return None
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
    finally:
        os.close(fd)
    return None


def lock_work_dir(work_dir: str | Path) -> Path:
    """Take ``work_dir`` for this process (creating the folder), or raise WorkDirBusy naming the
    pid that holds it. Taking it again in the same process is a no-op."""
    work_dir = Path(work_dir).resolve()
    if work_dir in _held:
        return work_dir / LOCK_NAME
    if not work_dir.exists():
        _created.add(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / LOCK_NAME
    for _ in range(ATTEMPTS):
        fd = _open_lock_file(work_dir, path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise WorkDirBusy(
                f"work_dir {str(work_dir)!r} is in use by another MapSage training run (pid "
                f"{pid}). Two runs in one folder would overwrite each other's checkpoints: wait "
                f"for it to finish (or stop it: kill {pid}), or choose another work_dir. "
                "Nothing was changed."
            ) from None
        if _names(path, fd):
            break
        os.close(fd)  # its holder removed it as we opened it: take the file now at the name
    else:
        raise WorkDirBusy(
            f"work_dir {str(work_dir)!r}: its lock file {path} was replaced {ATTEMPTS} times "
            "while this run tried to take it; other processes are starting runs there. Wait "
            "for them, or choose another work_dir. Nothing was changed.")
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    atexit.unregister(release_all)  # registered once, however often a folder is taken
    atexit.register(release_all)
    _held[work_dir], _owners[work_dir] = fd, os.getpid()
    return path


def _open_lock_file(work_dir: Path, path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    except PermissionError as exc:
        raise InputError(f"work_dir {str(work_dir)!r}: its lock file {path} cannot be opened "
                         f"for writing ({exc.strerror}). Choose a work_dir you own.") from exc
    except OSError as exc:
        if exc.errno != errno.ELOOP:  # O_NOFOLLOW: the name is a symbolic link
            raise
        raise InputError(link_message(
            path, f"work_dir {str(work_dir)!r}: its lock file",
            f"Remove the link (rm {str(path)!r}; a run creates the lock file itself) and run "
            "again. Nothing was written through it.")) from None


def _names(path: Path, fd: int) -> bool:
    """True when ``path`` is (still) the file open as ``fd``."""
    try:
        now = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:  # removed by the holder that released it
        return False
    held = os.fstat(fd)
    return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)


def unlock_work_dir(work_dir: str | Path) -> None:
    """Release ``work_dir`` and remove its lock file (at the latest when the process exits).
    The file goes while the lock is still held, and only if the name still leads to it."""
    work_dir = Path(work_dir).resolve()
    fd, owner = _held.pop(work_dir, None), _owners.pop(work_dir, None)
    if fd is None:
        return
    try:
        if os.getpid() == owner and _names(work_dir / LOCK_NAME, fd):
            (work_dir / LOCK_NAME).unlink()
    finally:
        os.close(fd)


def release_all() -> None:
    """Release every work_dir this process holds (registered with ``atexit``)."""
    for work_dir in list(_held):
        unlock_work_dir(work_dir)


def abandon_work_dir(work_dir: str | Path) -> None:
    """Undo :func:`lock_work_dir` for a run refused before it wrote anything: release the lock
    and, when this process created the folder and it holds nothing but the lock, remove both, so
    a refused run leaves nothing behind."""
    work_dir = Path(work_dir).resolve()
    unlock_work_dir(work_dir)  # removes the lock file
    if work_dir in _created and not any(work_dir.iterdir()):
        work_dir.rmdir()
        _created.discard(work_dir)
