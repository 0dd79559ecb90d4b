"""Every file MapSage writes is written without following a symbolic link.

A name in a work_dir (or a ``--out`` folder) may be a symbolic link planted there: a run folder
copied from elsewhere, downloaded, or shared with another user. ``open(path, "w")`` writes through
such a link into whatever it points at, outside the folder, and creates that file when the link
dangles. So every MapSage write goes through this module:

- the bytes go into a new hidden file in the target's folder (``.<name>.<random>.partial``),
  created with ``O_CREAT | O_EXCL | O_NOFOLLOW``: it cannot already exist, so nothing planted is
  ever opened;
- it is flushed to disk and renamed onto the target name with ``os.replace``. A rename replaces a
  link itself and never writes through it; it is also atomic, so a reader sees the old file or
  the whole new one, and a process killed mid-write leaves only the hidden temporary file.

Writers that want a path (matplotlib's ``savefig``, PIL, ``nbformat.write``) get the temporary
file's file object from :func:`replacing`. Files that must keep their name while being written
(the lock file, an executed notebook papermill rewrites after every cell) are opened or claimed
with ``O_NOFOLLOW`` (:func:`claim_new`, :func:`refuse_link`) instead.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from mapsage.errors import MapSageError

TEMP_PREFIX, TEMP_SUFFIX = ".", ".partial"
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def temporary_beside(path: Path) -> tuple[int, Path]:
    """A new, empty file next to ``path`` (same folder, so the rename stays on one file system),
    opened for writing; (descriptor, its path). Its mode is a plain ``open``'s (0666 minus the
    umask)."""
    for _ in range(100):
        tmp = path.with_name(f"{TEMP_PREFIX}{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
        try:
            return os.open(tmp, _NEW_FILE, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(path))


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def replacing(path: str | Path, mode: str = "wb", durable: bool = True) -> Iterator[IO]:
    """A file object whose content replaces ``path`` when the block ends without an exception
    (a link at ``path`` is replaced, never written through); on an exception the temporary file
    is removed and ``path`` is untouched. ``mode`` is ``"wb"`` or ``"w"`` (UTF-8 text).
    ``durable``: flush the file and its folder to disk (``fsync``) before returning; False for
    many files that can be made again (a generated data set)."""
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', not {mode!r}")
    path = Path(path)
    fd, tmp = temporary_beside(path)
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        _sync_folder(path.parent)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Replace ``path`` with ``data`` (see :func:`replacing`); return the path."""
    with replacing(path) as fh:
        fh.write(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    """Replace ``path`` with ``text`` in UTF-8 (see :func:`replacing`); return the path."""
    return write_bytes(path, text.encode("utf-8"))


def link_message(path: str | Path, what: str, fix: str) -> str:
    """'<what> <path> is a symbolic link (to <target>) ...': the paragraph every refusal uses."""
    path = Path(path)
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    return (f"{what} {str(path)!r} is a symbolic link (to {target!r}). MapSage never writes "
            f"through a link: it would change or create a file outside the folder. {fix}")


def refuse_link(path: str | Path, what: str, fix: str | None = None) -> None:
    """Raise :class:`MapSageError` when ``path`` is a symbolic link (dangling or not)."""
    if os.path.islink(path):
        raise MapSageError(link_message(
            path, what, fix or f"Remove the link (rm {str(path)!r}) and run again."))


def claim_new(folder: str | Path, stem: str, suffix: str) -> Path:
    """Create ``folder/stem+suffix`` empty, or when that name is taken (a file, a folder or a
    link) ``stem.2+suffix``, ``stem.3+suffix``, ...: the first free name, created exclusively, so
    two processes never get the same one and nothing existing is replaced or written through."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    number = 1
    while True:
        path = folder / (f"{stem}{suffix}" if number == 1 else f"{stem}.{number}{suffix}")
        try:
            os.close(os.open(path, _NEW_FILE, 0o666))
        except FileExistsError:
            number += 1
            continue
        return path


def remove_links(folder: str | Path, names: Iterable[str]) -> list[Path]:
    """Remove the symbolic links among ``folder/name`` (only the links, never what they point
    at), for a writer outside MapSage that opens those names with a plain ``open``; return them."""
    removed = []
    for name in names:
        path = Path(folder) / name
        if os.path.islink(path):
            path.unlink()
            removed.append(path)
    return removed
