"""Which checkpoint a run continues from (``resume=True/'auto'``), and the run's best checkpoint."""

from __future__ import annotations

from pathlib import Path

from mapsage.errors import MapSageError
from mapsage.params import TrainParams


def best_checkpoint(work_dir: Path) -> Path | None:
    """The newest ``best_mIoU_iter_N.pth`` in ``work_dir``."""
    best = sorted(work_dir.glob("best_mIoU_iter_*.pth"),
                  key=lambda p: int(p.stem.rsplit("_", 1)[-1]))
    return best[-1] if best else None


def newest_valid_checkpoint(work_dir: Path) -> Path | None:
    """The highest ``iter_N.pth`` in ``work_dir`` that is a complete, loadable checkpoint."""
    from mapsage.training.checkpoint import check_checkpoint

    candidates = sorted(work_dir.glob("iter_*.pth"), key=lambda p: int(p.stem.split("_")[-1]),
                        reverse=True)
    for candidate in candidates:
        try:
            check_checkpoint(candidate, role="checkpoint")
        except MapSageError as exc:
            print(f"mapsage: skipping {candidate.name} for resume: {str(exc).splitlines()[0]}",
                  flush=True)
            continue
        return candidate
    return None


def select_resume(cfg, params: TrainParams) -> None:
    """Point ``cfg`` at the newest valid checkpoint when the run resumes (else a fresh start)."""
    if not params.resume:
        return
    newest = newest_valid_checkpoint(Path(params.work_dir))
    if newest is not None:
        cfg.load_from, cfg.resume = str(newest), True
        print(f"mapsage: resuming from {newest}", flush=True)
    else:
        cfg.resume = False
        print(f"mapsage: resume={params.resume!r} but {params.work_dir} has no valid "
              "checkpoint yet: starting from the beginning", flush=True)
