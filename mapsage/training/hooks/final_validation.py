"""Every run's results come from a validation of its last iteration, also after a resume.

mmengine's ``IterBasedTrainLoop`` validates at the end of the loop, but a run resumed at its
last iteration (killed during the final validation, or during the end-of-run reports) runs no
iteration and so no validation: metrics.json would report an earlier evaluation as final, and a
folder holding only checkpoints would have nothing to report. :class:`FinalValidationHook`
runs the validation loop at ``after_train`` when this session has not validated the last
iteration, before :class:`mapsage.results.hook.RunResultsHook` (lower priority) reads the logs.
"""

from __future__ import annotations

from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from mapsage.training.hooks import FINAL_VALIDATION_HOOK


@HOOKS.register_module(name=FINAL_VALIDATION_HOOK)
class FinalValidationHook(Hook):
    """Validate the final iteration if the training loop did not."""

    priority = "LOW"  # after_train: before RunResultsHook (VERY_LOW)

    def __init__(self) -> None:
        self.validated_at: int | None = None

    def after_val_epoch(self, runner, metrics=None) -> None:
        self.validated_at = runner.iter

    def after_train(self, runner) -> None:
        if runner.val_loop is None or self.validated_at == runner.iter:
            return
        runner.logger.info(f"mapsage: validating iteration {runner.iter}: this session did not "
                           "(resumed at the end of the schedule)")
        runner.val_loop.run()
