"""``ResumeGuardHook``: every checkpoint the Runner loads is sanitised before mmengine reads its
metadata (:mod:`mapsage.training.checkpoint.resume_guard` holds the checks and says why)."""

from __future__ import annotations

from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from mapsage.training.checkpoint.resume_guard import check_structure, sanitise
from mapsage.training.hooks import RESUME_GUARD_HOOK


@HOOKS.register_module(name=RESUME_GUARD_HOOK)
class ResumeGuardHook(Hook):
    """Sanitise every checkpoint the Runner loads before mmengine reads its metadata."""

    priority = "HIGHEST"

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # Only Runner.resume reads meta and the message hub; a load_from or evaluation load
        # uses the weights alone. (mmengine 0.10.7 keeps the resume flag as Runner._resume.)
        if not getattr(runner, "_resume", True):
            return
        if not runner._has_loaded:
            # the resume load itself (later loads in the run, such as the best checkpoint's
            # for the reports, come after it): its state is vetted before mmengine restores it
            # (again, for a config run outside mapsage.train, e.g. by mmseg's tools/train.py)
            from mmengine.runner.checkpoint import find_latest_checkpoint

            from mapsage.training.checkpoint.resume_state import check_training_state

            path = runner._load_from or find_latest_checkpoint(runner.work_dir)
            check_structure(checkpoint)
            check_training_state(checkpoint, path, runner.cfg, runner.world_size)
        for note in sanitise(checkpoint, runner.work_dir):
            runner.logger.warning(f"mapsage: {note}")
