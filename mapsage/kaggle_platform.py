"""Facts of the Kaggle platform, for every layer: where input data sets and the working folder
are and how to find them, the GPUs' compute capabilities, and how to keep a built mmcv wheel.

Kaggle mounts attached data sets under ``/kaggle/input`` in more than one layout
(``/kaggle/input/<slug>``, ``/kaggle/input/datasets/<owner>/<slug>``, archives that unpack to a
doubled ``Train/Train``), and writes outputs to ``/kaggle/working``. Paths in Kaggle parameter
files are written as Kaggle sees them; :func:`localize` maps them onto ``MAPSAGE_KAGGLE_ROOT``
when it is set. That variable is the stand-in for Kaggle's file system used by the local
"Kaggle rehearsal" (a ``/kaggle`` tree in a temporary folder); on Kaggle it is unset and paths
are used as they are. The paths and the variable are defined once, in :mod:`envcheck.kaggle_paths`.
Standard library only.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from envcheck import walk
from envcheck.kaggle_paths import KAGGLE, KAGGLE_INPUT, KAGGLE_WORKING, REHEARSAL_ROOT_ENV

GPU_CAPABILITIES = {"NvidiaTeslaT4": (7, 5), "NvidiaTeslaP100": (6, 0)}
"""Compute capability of each Kaggle GPU machine shape (``machine_shape`` in kernel metadata)."""


def root() -> Path:
    return Path(os.environ.get(REHEARSAL_ROOT_ENV) or KAGGLE)


def input_dir() -> Path:
    return Path(localize(KAGGLE_INPUT))


def working_dir() -> Path:
    return Path(localize(KAGGLE_WORKING))


def on_kaggle() -> bool:
    """True in a Kaggle kernel (as envcheck detects it), or in a rehearsal (MAPSAGE_KAGGLE_ROOT set)."""
    from envcheck.facts import detect_platform

    return bool(os.environ.get(REHEARSAL_ROOT_ENV)) or detect_platform()[0] == "kaggle"


def localize(path: str | None) -> str | None:
    """Map a ``/kaggle/...`` path onto the rehearsal root when one is set."""
    if path is None or not os.environ.get(REHEARSAL_ROOT_ENV):
        return path
    if path == KAGGLE or path.startswith(KAGGLE + "/"):
        return str(root()) + path[len(KAGGLE):]
    return path


def find_input_file(path: str, search_root: Path | None = None) -> Path | None:
    """``path`` if it exists; otherwise the same file name anywhere under the input folder.

    A parameter file written for one mount layout (``/kaggle/input/ckpt/best.pth``) then still
    finds the file under another (``/kaggle/input/datasets/me/ckpt/best.pth``).
    """
    candidate = Path(path)
    if candidate.exists():
        return candidate
    base = search_root or input_dir()
    if not base.is_dir():
        return None
    matches = list(walk.files_named(base, glob.escape(candidate.name)))
    same_parent = [m for m in matches if m.parent.name == candidate.parent.name]
    found = same_parent or matches
    return found[0] if found else None


BOOTSTRAP_DEFINITION = "kaggle/mapsage-bootstrap"


def wheel_reuse_hint(wheel_folder: Path) -> str:
    """What to do so the next run does not build mmcv again, after a build into ``wheel_folder``."""
    if not on_kaggle():
        return (f"  The wheel is cached in {wheel_folder}: the next setup on this machine "
                "installs it in seconds.")
    return (f"  This session built mmcv for this image; the wheel is in {wheel_folder}, among "
            "this version's outputs.\n"
            "  So that the next runs install it offline, re-run the bootstrap kernel for this "
            "image and keep it in the training kernel's kernel_sources:\n"
            f"    mapsage build kaggle --kernel {BOOTSTRAP_DEFINITION} && "
            "mapsage push build/kaggle/mapsage-bootstrap\n"
            "  (a kernel that attaches this kernel's output, like a continuation, finds the "
            "wheel too).")
