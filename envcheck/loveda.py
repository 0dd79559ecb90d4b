"""Where LoveDA is under a folder: the ONE search that preflight (envcheck) and training
(``mapsage.data.layout``) both use, so they can never disagree. Standard library only.

LoveDA's archives unpack as ``Train/{Urban,Rural}/{images_png,masks_png}`` and
``Val/{Urban,Rural}/...``; a split may sit one folder deeper (``Train/Train/Urban/...``), and
Kaggle mounts an attached data set as ``/kaggle/input/<slug>/`` or
``/kaggle/input/datasets/<owner>/<slug>/`` (a notebook's output as
``/kaggle/input/notebooks/<owner>/<slug>/``), often with one more folder (``LoveDA/``) inside.
The search is breadth-first from the given folder, :data:`MAX_DEPTH` folders down, so the
shallowest LoveDA root wins, and it never descends into image folders.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from pathlib import Path

from envcheck.kaggle_paths import MOUNT_DEPTH, SPARE_DEPTH

SPLITS = ("Train", "Val")
DOMAINS = ("Urban", "Rural")
IMAGES, MASKS = "images_png", "masks_png"
MAX_DEPTH = MOUNT_DEPTH + 1 + SPARE_DEPTH
"""Folders below the search root a LoveDA root may be (5): enough for
``input/datasets/<owner>/<slug>/LoveDA`` (4) plus one spare level."""
MAX_DIRS = 5000
"""Folders visited at most: an attached input can be large; the search must stay fast."""
FILE_DEPTH = MOUNT_DEPTH + 2 + SPARE_DEPTH
"""Folders below ``/kaggle/input`` a wheel, manifest or checkpoint may be (6):
``notebooks/<owner>/<slug>/mapsage-wheelhouse/<key>/`` (5) plus one spare level."""
_SKIP = {IMAGES, MASKS, "__pycache__"}


def split_dir(root: Path, split: str) -> Path | None:
    """``root/split`` holding at least one domain's images, allowing a doubled ``split/split``."""
    for candidate in (root / split, root / split / split):
        if any((candidate / d / IMAGES).is_dir() for d in DOMAINS):
            return candidate
    return None


def splits_at(root: Path) -> dict[str, Path]:
    """split name -> the folder holding its ``{Urban,Rural}`` folders, for the splits at ``root``."""
    found = {}
    for split in SPLITS:
        folder = split_dir(root, split)
        if folder is not None:
            found[split] = folder
    return found


def walk(base: str | Path, max_depth: int, max_dirs: int,
         on_error=None) -> Iterator[tuple[Path, int, list[os.DirEntry]]]:
    """``(folder, depth, its entries)`` for ``base`` and the folders below it, breadth-first
    and by name (the shallowest first), at most ``max_depth`` levels down and ``max_dirs``
    folders; hidden folders and LoveDA's image and mask folders are not entered. A folder that
    cannot be listed goes to ``on_error(folder, exc)`` (default: skipped)."""
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
                         if e.is_dir() and not e.name.startswith(".") and e.name not in _SKIP)


def files_named(base: str | Path, pattern: str, max_depth: int = FILE_DEPTH,
                max_dirs: int = MAX_DIRS) -> Iterator[Path]:
    """Files at or below ``base`` whose name matches ``pattern`` (``fnmatch``), shallowest
    first, by the same bounded walk: an attached LoveDA's ten thousand tiles are never listed
    one by one, and a huge input cannot stall the search."""
    for _, _, entries in walk(base, max_depth, max_dirs):
        for entry in entries:
            if fnmatch.fnmatchcase(entry.name, pattern) and not entry.is_dir():
                yield Path(entry.path)


def find_root(base: str | Path, max_depth: int = MAX_DEPTH,
              max_dirs: int = MAX_DIRS) -> Path | None:
    """The shallowest folder at or below ``base`` that holds LoveDA's splits, or None.

    A folder counts when at least one split (``Train`` or ``Val``) with a domain's
    ``images_png`` is directly in it or in a doubled ``split/split``; whether both splits and
    the masks are there is for the caller to judge (it can then say what is missing).
    """
    for here, _, _ in walk(base, max_depth, max_dirs):
        if splits_at(here):
            return here
    return None
