"""The data check as a training run makes it: once per run, in one process, skipped when unchanged.

- Only the process of global rank 0 checks (``RANK``, as torchrun sets it): the data set is the
  same for every process, and if rank 0 refuses it, it exits with code 2 and torchrun stops the
  others. The other processes start at once instead of reading the same files again.
- A passed check is recorded in ``work_dir`` (:mod:`mapsage.data.check_cache`); a resumed run, or
  a continuation stage into the same ``work_dir``, whose data has not changed since reuses it
  and only re-applies the checks that depend on this run's parameters (the crop size).

Standard library, numpy and PIL only: it runs before torch or mmengine is imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from mapsage.data import check_cache
from mapsage.data.check import check_layout, crop_problem, raise_on_problems
from mapsage.data.layout import LoveDALayout
from mapsage.errors import MapSageError


def checks_data(environ: Mapping[str, str] | None = None) -> bool:
    """True in the one process that checks the data: global rank 0 (a single process is rank 0)."""
    env = os.environ if environ is None else environ
    rank = env.get("RANK", "0").strip() or "0"
    try:
        return int(rank) == 0
    except ValueError:
        raise MapSageError(f"The environment variable RANK={rank!r} is not an integer; "
                           "torchrun sets it. Unset it for a single-process run.") from None


def check_data(layout: LoveDALayout, work_dir: str | Path, *, crop_size: int | None,
               check_all: bool = False, progress: Callable[[str], None] | None = print,
               environ: Mapping[str, str] | None = None) -> check_cache.Passed | None:
    """Check the data (or reuse the record of an unchanged tree); raise ``InputError`` on problems.

    Returns what :func:`record` should write once the whole preflight has passed, or None where
    nothing is to be written (another rank, or the record was reused).
    """
    if not checks_data(environ):
        return None
    key, files = check_cache.fingerprint(layout)
    passed = check_cache.load(work_dir, key, check_all=check_all)
    if passed is not None:
        crop = crop_problem(crop_size, passed.smallest_train_image) if crop_size else None
        raise_on_problems(layout, [crop] if crop else [])
        if progress:
            progress(f"data check: {files} files unchanged since the check recorded in "
                     f"{Path(work_dir) / check_cache.RECORD} passed; not checked again")
        return None
    scan = check_layout(layout, check_all_masks=check_all, progress=progress)
    crop = crop_problem(crop_size, scan.smallest_train_image) if crop_size else None
    raise_on_problems(layout, scan.problems + ([crop] if crop else []))
    return check_cache.Passed(key, files, check_all, scan.smallest_train_image)


def record(work_dir: str | Path, passed: check_cache.Passed | None) -> None:
    """Write the record of a passed check (call when nothing else refused the run)."""
    if passed is not None:
        check_cache.store(work_dir, passed)
