"""Checkpoints written atomically: a kill during a save never leaves a truncated ``.pth``.

mmengine 0.10.7 serialises a checkpoint to memory and hands the bytes to its file backend, whose
local ``put`` opens the final path and writes into it: a process killed mid-write leaves a
truncated file under the real name, and a later resume picks it up. mmengine has no atomic
save, so this small backend is hand-written: it writes through :mod:`mapsage.safe_write`, to a
new temporary file in the same folder, flushed to disk and renamed over the final name
(``os.replace`` is atomic on POSIX, and replaces a symbolic link there instead of writing
through it), then syncs the folder. It is registered with mmengine's own backend registry and selected through
CheckpointHook's ``backend_args`` (``mapsage.training.config``), so mmengine's checkpoint code is
used unchanged.

A kill during a save leaves only the hidden temporary file (``.iter_N.pth.XXXX.partial``), never
a ``.pth``; :func:`remove_partial_writes` deletes such leftovers when the next run starts.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from mmengine.fileio import register_backend
from mmengine.fileio.backends import LocalBackend

from mapsage import safe_write
from mapsage.artefacts import LAST_CHECKPOINT

BACKEND = "mapsage_atomic_local"
PREFIX, SUFFIX = safe_write.TEMP_PREFIX, safe_write.TEMP_SUFFIX


def current_umask() -> int:
    """This process's umask, read without changing it where Linux shows it (/proc)."""
    status = Path("/proc/self/status")
    for line in status.read_text().splitlines() if status.is_file() else []:
        if line.startswith("Umask:"):
            return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: set it and put it back
    os.umask(mask)
    return mask


def write_atomically(data: bytes, path: str | Path) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename
    (:func:`mapsage.safe_write.write_bytes`: a link at ``path`` is replaced, never written
    through); the file gets the permissions a plain ``open(path, "wb")`` would give."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    safe_write.write_bytes(path, data)


def remove_partial_writes(folder: Path) -> list[Path]:
    """Delete the temporary files of saves that an interrupted run never finished.

    Each can be as large as a checkpoint (about 1 GB for MiT-B5 with its AdamW state).
    """
    leftovers = sorted(folder.glob(f"{PREFIX}*.pth.*{SUFFIX}")) if folder.is_dir() else []
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)
    return leftovers


LOG_FOLDER = re.compile(r"^\d{8}_\d{6}$")  # Runner's timestamp: %Y%m%d_%H%M%S


def unlink_plain_write_names(cfg, work_dir: Path) -> list[Path]:
    """Remove symbolic links (only the links) at the work_dir names mmengine 0.10.7 writes
    through a plain ``open(..., "w")`` or ``makedirs``, which follow a link: ``last_checkpoint``
    (CheckpointHook, after every save), the config it runs (``Runner.dump_config``, named as
    the config file) and the ``<timestamp>/`` log folder (any name of that form, the second a
    run starts being easy to guess). Call before the Runner is built; every other file of a run
    is written through :mod:`mapsage.safe_write`."""
    work_dir = Path(work_dir)
    names = [LAST_CHECKPOINT]
    if cfg.filename:
        names.append(Path(cfg.filename).name)
    if work_dir.is_dir():
        names += sorted(p.name for p in work_dir.iterdir() if LOG_FOLDER.match(p.name))
    return safe_write.remove_links(work_dir, names)


@register_backend(BACKEND)
class AtomicLocalBackend(LocalBackend):
    def put(self, obj: bytes, filepath: str | Path) -> None:
        write_atomically(obj, filepath)

    def put_text(self, obj: str, filepath: str | Path, encoding: str = "utf-8") -> None:
        write_atomically(obj.encode(encoding), filepath)
