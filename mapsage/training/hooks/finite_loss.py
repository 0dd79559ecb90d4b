"""Stop a run whose loss stops being a number: ``FiniteLossHook``.

A NaN or infinite loss never recovers by itself: the optimizer step it drives makes the weights
NaN, and every later loss, validation and checkpoint is garbage that mmengine reports as a good
run (exit 0, ``"status": "finished"``). After every training iteration the hook looks at the
losses the model's ``train_step`` returned (every ``loss*`` value and their sum, ``loss``);
when one is not finite it

1. records the failure in ``metrics.json`` (``"status": "failed"``, the iteration and the
   reason, through :meth:`mapsage.results.hook.RunResultsHook.write_failure`), so no earlier
   ``finished`` or ``time_limit`` status of the work_dir stands for this run;
2. raises :class:`NonFiniteLoss` (exit 1) naming the iteration, the loss and its value.

It runs after mmengine's ``LoggerHook`` (so a logging iteration prints the value) and before
``CheckpointHook`` and MapSage's time budget, so a checkpoint of the poisoned weights is never
saved: ``resume=auto`` continues from the last good one. Under torchrun every process learns
about a non-finite loss on any of them (an all-reduce of one flag) and all stop together.
(mmdetection's ``CheckInvalidLossHook`` does the same check with an ``assert``; mmengine 0.10.7
and mmseg have none.)
"""

from __future__ import annotations

import math

from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from mapsage.errors import RUN_FAILED, MapSageError
from mapsage.training.failure import record_failure
from mapsage.training.hooks import FINITE_LOSS_HOOK


class NonFiniteLoss(MapSageError):
    """The training loss became NaN or infinite: the run failed."""

    exit_code = RUN_FAILED


def non_finite(outputs) -> dict[str, float]:
    """The loss values among ``outputs`` (a ``train_step``'s log_vars) that are not finite."""
    found = {}
    for name, value in (outputs or {}).items():
        if "loss" not in name:
            continue
        number = float(value.detach().float().mean()) if hasattr(value, "detach") else value
        if isinstance(number, (int, float)) and not math.isfinite(number):
            found[name] = float(number)
    return found


def failure_message(iteration: int, max_iters: int, bad: dict[str, float], lr) -> str:
    values = ", ".join(f"{k} = {v}" for k, v in bad.items()) or "a loss on another process"
    return (f"training failed at iteration {iteration} of {max_iters}: the loss is not a number "
            f"({values}; learning rate {lr}). The weights are no longer usable, so the run "
            "stopped without saving them. Usual causes: a learning rate too high for this batch "
            "(lower lr), float16 overflow (amp=False), or a poisoned resume checkpoint. "
            "resume=auto continues from the last checkpoint saved before it.")


@HOOKS.register_module(name=FINITE_LOSS_HOOK)
class FiniteLossHook(Hook):
    """See the module docstring."""

    priority = "LOW"  # after LoggerHook (BELOW_NORMAL), before CheckpointHook (VERY_LOW)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        bad = non_finite(outputs)
        if runner.world_size > 1:
            import torch
            from mmengine.dist import all_reduce

            flag = torch.tensor([1.0 if bad else 0.0],
                                device=next(runner.model.parameters()).device)
            all_reduce(flag, op="max")
            failed = bool(flag.item())
        else:
            failed = bool(bad)
        if not failed:
            return
        lr = runner.optim_wrapper.get_lr().get("lr") if runner.optim_wrapper else None
        message = failure_message(runner.iter + 1, runner.max_iters, bad, lr)
        runner.logger.error(f"mapsage: {message}")
        record_failure(runner, message, iteration=runner.iter + 1)
        raise NonFiniteLoss(message)
