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

from pathlib import Path

from envcheck.walk import MAX_DEPTH, MAX_DIRS, walk

SPLITS = ("Train", "Val")
DOMAINS = ("Urban", "Rural")
IMAGES, MASKS = "images_png", "masks_png"


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
