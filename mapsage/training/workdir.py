"""The work_dir policy: it must be writable, and a fresh run never lands on another run's
checkpoints (``resume=auto`` continues that run instead)."""

from __future__ import annotations

import os
from pathlib import Path

from mapsage.errors import InputError, MapSageError
from mapsage.params import TrainParams


def check_work_dir(params: TrainParams) -> None:
    """Refuse a work_dir that cannot be written, or a fresh run on top of another run's checkpoints."""
    work_dir = Path(params.work_dir)
    ancestor = work_dir  # the folder that will hold (or holds) it
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise MapSageError(
            f"work_dir {str(work_dir)!r} cannot be created: {str(ancestor)!r} is a file, not a "
            "folder. Choose another work_dir."
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise MapSageError(
            f"work_dir {str(work_dir)!r} is not writable: {str(ancestor)!r} is read-only here. "
            "Choose a writable work_dir (on Kaggle under /kaggle/working: /kaggle/input is "
            "read-only)."
        )
    data_root = Path(params.data_root).resolve()
    if work_dir.resolve().is_relative_to(data_root):
        raise InputError(
            f"work_dir {str(work_dir)!r} is inside the data set {str(data_root)!r}: checkpoints "
            "and logs would mix with the images (and a data check or copy would take them "
            "along). Choose a work_dir outside the data set, e.g. runs/<name>."
        )
    if params.resume or not work_dir.is_dir():
        return
    existing = sorted(p.name for p in work_dir.glob("*.pth"))
    if existing:
        raise MapSageError(
            f"work_dir {str(work_dir)!r} already holds checkpoints from an earlier run "
            f"({', '.join(existing[:4])}{', ...' if len(existing) > 4 else ''}). A fresh run would "
            "overwrite them. Set resume=auto to continue that run, or choose a new work_dir."
        )
