"""The one bounded folder walk: every search below a data root or ``/kaggle/input`` (where a
data set is, where a wheel, manifest or checkpoint is) goes through it, so none can stall on a
huge input or run deeper than the layouts need. Standard library only."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from pathlib import Path

from envcheck.kaggle_paths import MOUNT_DEPTH, SPARE_DEPTH

MAX_DEPTH = MOUNT_DEPTH + 1 + SPARE_DEPTH
"""Folders below the search root a data set's root may be (5): enough for
``input/datasets/<owner>/<slug>/LoveDA`` (4) plus one spare level."""
MAX_DIRS = 5000
"""Folders visited at most: an attached input can be large; the search must stay fast."""
FILE_DEPTH = MOUNT_DEPTH + 2 + SPARE_DEPTH
"""Folders below ``/kaggle/input`` a wheel, manifest or checkpoint may be (6):
``notebooks/<owner>/<slug>/mapsage-wheelhouse/<key>/`` (5) plus one spare level."""
NOT_ENTERED = frozenset({"images_png", "masks_png", "__pycache__"})
"""Folders the walk never enters: LoveDA's tile folders (thousands of files, no folders)."""


def walk(base: str | Path, max_depth: int, max_dirs: int,
         on_error=None) -> Iterator[tuple[Path, int, list[os.DirEntry]]]:
    """``(folder, depth, its entries)`` for ``base`` and the folders below it, breadth-first
    and by name (the shallowest first), at most ``max_depth`` levels down and ``max_dirs``
    folders; hidden folders and :data:`NOT_ENTERED` are not entered. A folder that cannot be
    listed goes to ``on_error(folder, exc)`` (default: skipped)."""
    queue = [(Path(base), 0)]
    seen = 0
    while queue and seen < max_dirs:
        here, depth = queue.pop(0)
        seen += 1
        try:
            entries = sorted(os.scandir(here), key=lambda e: e.name)
        except OSError as exc:
            if on_error is not None:
                on_error(here, exc)
            continue
        yield here, depth, entries
        if depth < max_depth:
            queue.extend((Path(e.path), depth + 1) for e in entries
                         if e.is_dir() and not e.name.startswith(".")
                         and e.name not in NOT_ENTERED)


def files_named(base: str | Path, pattern: str, max_depth: int = FILE_DEPTH,
                max_dirs: int = MAX_DIRS) -> Iterator[Path]:
    """Files at or below ``base`` whose name matches ``pattern`` (``fnmatch``), shallowest
    first, by the same bounded walk: an attached data set's ten thousand tiles are never listed
    one by one, and a huge input cannot stall the search."""
    for _, _, entries in walk(base, max_depth, max_dirs):
        for entry in entries:
            if fnmatch.fnmatchcase(entry.name, pattern) and not entry.is_dir():
                yield Path(entry.path)
