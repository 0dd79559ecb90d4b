"""The data check as a training run makes it: once per run, in one process, skipped when unchanged.

- Only rank 0 checks (:func:`mapsage.training.device.is_main_process`, from torchrun's ``RANK``):
  the data set is the same for every process, and when rank 0 refuses it, it exits with code 2
  and torchrun stops the others. The other processes go on at once instead of reading the same
  files again.
- A passed check is recorded in ``work_dir`` (:mod:`mapsage.data.check_cache`) once the whole
  preflight has passed; a resumed run, or a continuation stage into the same ``work_dir``,
  whose data has not changed reuses it and only re-applies what depends on this run's
  parameters (the crop size).

Standard library, numpy and PIL only: it runs before torch or mmengine is imported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from mapsage.data import check_cache
from mapsage.data.check import check_layout, crop_problem, raise_on_problems
from mapsage.data.layout import DataLayout
from mapsage.training.device import is_main_process


def checks_data() -> bool:
    """True in the one process that checks the data: rank 0 (a single process is rank 0)."""
    return is_main_process()


def check_data(layout: DataLayout, work_dir: str | Path, *,
               crop_size: int | tuple[int, int] | None, check_all: bool = False,
               progress: Callable[[str], None] | None = print) -> check_cache.Passed | None:
    """Check the data (or reuse the record of an unchanged tree); raise ``InputError`` listing
    every problem. None in the processes that do not check (see :func:`checks_data`)."""
    if not checks_data():
        return None
    started = time.perf_counter()
    key, files = check_cache.fingerprint(layout)
    passed = check_cache.load(work_dir, key, check_all=check_all)
    if passed is not None:
        check_crop(layout, passed, crop_size)
        if progress:
            progress(f"data check: {files} files unchanged since the check recorded in "
                     f"{Path(work_dir) / check_cache.RECORD} passed; not checked again "
                     f"[{time.perf_counter() - started:.1f}s]")
        return passed
    scan = check_layout(layout, check_all_masks=check_all, progress=progress)
    crop = crop_problem(crop_size, scan.smallest_train_image) if crop_size else None
    raise_on_problems(layout, scan.problems + ([crop] if crop else []))
    return check_cache.Passed(key, files, check_all, scan.smallest_train_image, fresh=True)


def check_crop(layout: DataLayout, passed: check_cache.Passed | None,
               crop_size: int | tuple[int, int] | None) -> None:
    """Refuse a crop larger than the smallest training image the check found."""
    problem = crop_problem(crop_size, passed.smallest_train_image) if passed and crop_size \
        else None
    raise_on_problems(layout, [problem] if problem else [])


def record(work_dir: str | Path, passed: check_cache.Passed | None) -> None:
    """Write the record of a check that passed now (call once nothing else refused the run)."""
    if passed is not None and passed.fresh:
        check_cache.store(work_dir, passed)
