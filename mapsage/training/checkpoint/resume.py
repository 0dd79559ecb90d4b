"""Which checkpoint a run continues from (``resume=True/'auto'``), and the run's best checkpoint."""

from __future__ import annotations

from pathlib import Path

from mapsage.errors import MapSageError, UnusableCheckpoint
from mapsage.params import TrainParams
from mapsage.training.checkpoint.names import best_checkpoint, iter_checkpoints

__all__ = ["best_checkpoint", "newest_valid_checkpoint", "select_resume"]


def newest_valid_checkpoint(work_dir: Path, cfg=None) -> Path | None:
    """The highest ``iter_N.pth`` in ``work_dir`` that loads completely with the safe unpickler
    and holds only plain metadata (:func:`mapsage.training.checkpoint.resume_guard.vet_resume_candidate`);
    damaged or crafted ones are skipped with their reason. With ``cfg``, a checkpoint of another
    schedule length is refused (MapSageError), not skipped."""
    from mapsage.training.checkpoint.resume_guard import vet_resume_candidate

    for candidate in iter_checkpoints(work_dir):
        try:
            vet_resume_candidate(candidate, work_dir, cfg)
        except UnusableCheckpoint as exc:
            print(f"mapsage: skipping {candidate.name} for resume: {str(exc).splitlines()[0]}",
                  flush=True)
            continue
        return candidate
    return None


def select_resume(cfg, params: TrainParams) -> None:
    """Point ``cfg`` at the newest valid checkpoint when the run resumes (else a fresh start)."""
    if not params.resume:
        return
    work_dir = Path(params.work_dir)
    newest = newest_valid_checkpoint(work_dir, cfg)
    if newest is not None:
        cfg.load_from, cfg.resume = str(newest), True
        print(f"mapsage: resuming from {newest}", flush=True)
    elif iter_checkpoints(work_dir):
        names = ", ".join(p.name for p in iter_checkpoints(work_dir)[:4])
        raise MapSageError(
            f"resume={params.resume!r}: none of the checkpoints in {str(work_dir)!r} ({names}) "
            "can be resumed (the reasons are printed above). Starting from the beginning would "
            "overwrite them: move them away, or choose a new work_dir. Nothing was trained or "
            "overwritten."
        )
    else:
        cfg.resume = False
        print(f"mapsage: resume={params.resume!r} but {params.work_dir} has no valid "
              "checkpoint yet: starting from the beginning", flush=True)
