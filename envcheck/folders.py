"""Where a folder data set (images and masks, one pair of folders per split) is under a folder:
the ONE search that the Kaggle first checks (envcheck) and training (``mapsage.data.layout``)
both use. Standard library only.

The shapes found are the common ones on Kaggle and in mmseg (``{split}`` is the split's folder
name, any of :data:`SPLIT_NAMES`):

- ``{split}/images`` + ``{split}/masks`` (also ``img``/``ann`` and ``labels``);
- ``img_dir/{split}`` + ``ann_dir/{split}`` (mmseg's converted data sets);
- ``images/{split}`` + ``masks/{split}`` (also ``annotations/{split}`` and ``labels/{split}``).

The search is breadth-first from the given folder, :data:`envcheck.walk.MAX_DEPTH` folders down,
so the shallowest folder holding a training split wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from envcheck.walk import MAX_DEPTH, MAX_DIRS, walk

SPLITS = ("train", "val", "test")
"""MapSage's split roles: train and val need masks, test (optional) does not."""
SPLIT_NAMES = {
    "train": ("train", "training", "Train"),
    "val": ("val", "valid", "validation", "Val", "Valid"),
    "test": ("test", "Test"),
}
"""Folder names accepted for each split role, in the order tried."""
IMAGE_NAMES = ("images", "img", "imgs", "image")
MASK_NAMES = ("masks", "ann", "labels", "annotations", "mask", "gt")


@dataclass(frozen=True)
class Shape:
    """One way of laying out split folders: ``images``/``masks`` are templates with ``{split}``
    and ``{kind}`` (one of the image or mask folder names)."""
    name: str
    images: str
    masks: str


SHAPES = (
    Shape("split/images", "{split}/{kind}", "{split}/{kind}"),
    Shape("img_dir/split", "img_dir/{split}", "ann_dir/{split}"),
    Shape("images/split", "{kind}/{split}", "{kind}/{split}"),
)


@dataclass(frozen=True)
class SplitFolders:
    role: str  # "train", "val" or "test"
    images: Path
    masks: Path | None  # None: no mask folder found (a test split may have none)


def _first_dir(root: Path, template: str, split: str, kinds: tuple[str, ...]) -> Path | None:
    for kind in kinds if "{kind}" in template else ("",):
        folder = root / template.format(split=split, kind=kind)
        if folder.is_dir():
            return folder
    return None


def splits_in(root: Path, shape: Shape) -> dict[str, SplitFolders]:
    """role -> its folders, for the splits laid out at ``root`` in ``shape``."""
    found = {}
    for role in SPLITS:
        for split in SPLIT_NAMES[role]:
            images = _first_dir(root, shape.images, split, IMAGE_NAMES)
            if images is None:
                continue
            masks = _first_dir(root, shape.masks, split, MASK_NAMES)
            found[role] = SplitFolders(role, images, masks)
            break
    return found


def splits_at(root: Path) -> tuple[Shape, dict[str, SplitFolders]] | None:
    """The first shape in which ``root`` holds a training split, with its splits; None."""
    for shape in SHAPES:
        found = splits_in(root, shape)
        if "train" in found:
            return shape, found
    return None


def find_root(base: str | Path, max_depth: int = MAX_DEPTH,
              max_dirs: int = MAX_DIRS) -> Path | None:
    """The shallowest folder at or below ``base`` that holds a training split in one of
    :data:`SHAPES`, or None; whether val and the masks are there is for the caller to judge."""
    for here, _, _ in walk(base, max_depth, max_dirs):
        if splits_at(here) is not None:
            return here
    return None
