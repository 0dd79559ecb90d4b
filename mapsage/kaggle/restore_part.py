"""Long runs across Kaggle sessions, in the kernel: what the restore cell of a continuation
(:mod:`mapsage.kaggle.next_part` builds it) runs on Kaggle. It copies the previous part's
work_dir (its checkpoints, mmengine's logs of every earlier session and metrics.json), mounted
read-only under ``/kaggle/input`` through ``kernel_sources``, into this session's work_dir, from
where training resumes (``resume="auto"``).

Standard library only at import time (the cell runs before anything is installed).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from envcheck.kaggle_paths import KAGGLE_WORKING, MOUNT_DEPTH, SPARE_DEPTH
from mapsage import kaggle_platform
from mapsage.errors import InputError, MapSageError
from mapsage.kaggle.next_part import parse_kernel_ref
from mapsage.safe_write import replacing
from mapsage.training.checkpoint.names import iter_checkpoints


def find_previous_work_dir(slug: str, relative: Path, input_root: Path) -> Path | None:
    """``<mount of slug>/<relative>`` under ``input_root`` holding checkpoints, in any layout."""
    candidates = []
    for depth in range(MOUNT_DEPTH + SPARE_DEPTH):  # folders above the <slug> mount
        pattern = "/".join(["*"] * depth + [slug])
        candidates += sorted(p / relative for p in input_root.glob(pattern) if p.is_dir())
    for candidate in candidates:
        if iter_checkpoints(candidate):
            return candidate
    return None


def _previous_status(folder: Path) -> str:
    """One line on what the previous session's metrics.json says (not trusted: only shown)."""
    from mapsage.results.record import read_metrics

    try:
        _, metrics = read_metrics(folder)
        status, iterations = metrics.get("status"), int(metrics["iterations"])
        max_iters = int(metrics.get("params", {}).get("max_iters"))
    except (MapSageError, KeyError, ValueError, TypeError, AttributeError):
        return "its metrics.json is missing or unreadable; resuming from its newest checkpoint"
    if status == "finished":
        return (f"it had already finished ({iterations} of {max_iters} iterations): this session "
                "only writes the results again")
    return f"it stopped with status {status!r} at iteration {iterations} of {max_iters}"


def _copy_file(source: str, target: str) -> str:
    """``copytree``'s copy of one file, through :mod:`mapsage.safe_write`: a link at the name in
    the target is replaced, never written through; times and mode copied as ``copy2`` does."""
    with open(source, "rb") as src, replacing(target) as out:
        shutil.copyfileobj(src, out)
    shutil.copystat(source, target)
    return target


def restore_previous_stage(continue_from: str, work_dir: str, log=print) -> Path:
    """Copy the previous stage's work_dir from its kernel_sources mount into ``work_dir``.

    Nothing is overwritten: when ``work_dir`` already holds checkpoints (the notebook was run
    again in this session), it is left as it is.
    """
    _, slug = parse_kernel_ref(continue_from)
    relative = Path(work_dir).relative_to(KAGGLE_WORKING)
    target = Path(kaggle_platform.localize(work_dir))
    if iter_checkpoints(target):
        log(f"{target} already holds checkpoints: not copied again; resuming from them")
        return target
    source = find_previous_work_dir(slug, relative, kaggle_platform.input_dir())
    if source is None:
        raise InputError(
            f"the output of {continue_from} (its {relative}/ with iter_*.pth checkpoints) is not "
            f"under {kaggle_platform.input_dir()}: attach it (Add Input > Notebook Output > "
            f"{continue_from}); `mapsage build kaggle --continue-from` lists it in "
            "kernel_sources, so pushing the built kernel attaches it.")
    log(f"continuing {continue_from}: {_previous_status(source)}")
    shutil.copytree(source, target, dirs_exist_ok=True, copy_function=_copy_file)
    checkpoints = iter_checkpoints(target)  # newest first; other names are not checkpoints
    log(f"copied {source} -> {target} ({len(checkpoints)} checkpoint(s), newest "
        f"{checkpoints[0].name})")
    return target
