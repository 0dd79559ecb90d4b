"""The names mmengine gives checkpoints, matched exactly: ``iter_N.pth`` and
``best_<metric>_iter_N.pth``. Anything else in a work_dir (``iter_20 (copy).pth``,
``best_mIoU_iter_10_old.pth``) is not a checkpoint of the run and is ignored."""

from __future__ import annotations

import re
from pathlib import Path

ITER_NAME = re.compile(r"^iter_(\d+)\.pth$")
BEST_NAME = re.compile(r"^best_(?P<metric>.+)_iter_(?P<iter>\d+)\.pth$")


def iteration_of(name: str) -> int | None:
    """N for ``iter_N.pth``, else None."""
    match = ITER_NAME.match(name)
    return int(match.group(1)) if match else None


def best_iteration_of(name: str, metric: str | None = None) -> int | None:
    """N for ``best_<metric>_iter_N.pth`` (any metric when ``metric`` is None), else None."""
    match = BEST_NAME.match(name)
    if not match or (metric is not None and match.group("metric") != metric):
        return None
    return int(match.group("iter"))


def iter_checkpoints(work_dir: str | Path) -> list[Path]:
    """``iter_N.pth`` files in ``work_dir`` (regular files only), newest (highest N) first."""
    found = [(iteration_of(p.name), p) for p in Path(work_dir).glob("iter_*.pth")
             if p.is_file() and not p.is_symlink()]
    return [p for n, p in sorted((f for f in found if f[0] is not None), reverse=True)]


def best_checkpoint(work_dir: str | Path, metric: str = "mIoU") -> Path | None:
    """The newest ``best_<metric>_iter_N.pth`` in ``work_dir``, or None."""
    found = [(best_iteration_of(p.name, metric), p) for p in Path(work_dir).glob("best_*.pth")
             if p.is_file() and not p.is_symlink()]
    found = sorted(f for f in found if f[0] is not None)
    return found[-1][1] if found else None
