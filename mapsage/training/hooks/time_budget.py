"""Stop training cleanly at the last safe moment before a time limit: ``TimeBudgetHook``.

After every training iteration the hook asks: if training goes on by one more iteration, can
it still stop cleanly after that one? Going on costs the validation due now (it runs either
way), the iteration, the validation of the iteration it reaches (the schedule's, or the one
every run ends with: :mod:`mapsage.training.hooks.final_validation`) and a checkpoint save (the
schedule's, or the stop's own). Every cost is measured in this session: the longest of the recent
iterations (data loading, step and hooks), the longest validation and the longest save. Before
a validation or a save has been measured it is guessed: a validation as that longest iteration
per validation batch, a save as the run's state (weights and optimizer moments) written at
``GUESS_WRITE_BYTES_PER_S``, at least one iteration. The sum is reserved with a margin
(``SAFETY_FACTOR`` times it plus ``SAFETY_S``). When the time left no longer covers it, the hook

1. saves a checkpoint of the iteration reached (``iter_N.pth`` through the run's own
   ``CheckpointHook``, off the schedule if need be, unless that hook saved this very
   iteration); the save is timed like the others,
2. tells mmengine's loop to stop (``train_loop.stop_training``, as ``EarlyStoppingHook`` does;
   a validation due at this iteration still runs, and a run that has never validated, in any
   of its sessions, validates once so that metrics.json has a score),
3. leaves the outcome in the message hub (:func:`mapsage.training.time_budget.run_status` reads
   it), so the normal end-of-run
   code writes ``metrics.json`` with ``"status": "time_limit"``, the iteration reached and the
   seconds of the budget left unused, and the process exits 0. ``resume=auto`` in the same
   work_dir continues from that checkpoint.

The deadline: the training process's start plus ``time_limit`` seconds; on Kaggle never later
than the session's end minus a margin (:mod:`envcheck.session`), which is also the default
when ``time_limit`` is None. Elsewhere None means no limit. Under torchrun rank 0 decides and
broadcasts, so every process stops at the same iteration.
"""

from __future__ import annotations

import collections
import time

from mmengine.dist import broadcast_object_list, get_world_size, is_main_process
from mmengine.hooks import CheckpointHook, Hook
from mmseg.registry import HOOKS

from mapsage.training.hooks import TIME_BUDGET_HOOK
from mapsage.training.time_budget import (
    DEADLINE_KEY,
    GUESS_WRITE_BYTES_PER_S,
    RECENT_ITERATIONS,
    STATUS_KEY,
    Costs,
    Schedule,
    reserve,
    resolve_deadline,
    should_stop,
)


def state_bytes(runner) -> int:
    """Bytes of the tensors a checkpoint holds: the model's state and the optimizer's."""
    import torch

    total = sum(t.numel() * t.element_size() for t in runner.model.state_dict().values()
                if isinstance(t, torch.Tensor))
    optimizer = getattr(getattr(runner, "optim_wrapper", None), "optimizer", None)
    for state in (optimizer.state.values() if optimizer is not None else ()):
        total += sum(t.numel() * t.element_size() for t in state.values()
                     if isinstance(t, torch.Tensor))
    return total


@HOOKS.register_module(name=TIME_BUDGET_HOOK)
class TimeBudgetHook(Hook):
    """See the module docstring. ``time_limit`` in seconds (None: Kaggle's session, or none)."""

    priority = "LOWEST"  # after CheckpointHook (VERY_LOW) has saved this iteration

    def __init__(self, time_limit: float | None = None) -> None:
        from envcheck import session
        from mapsage import kaggle_platform

        self.time_limit = time_limit
        session_end, self.session_note = session.session_deadline()
        self.deadline = resolve_deadline(time_limit, session.process_start_time(),
                                         on_kaggle=kaggle_platform.on_kaggle(),
                                         session_deadline=session_end)
        self._iterations: collections.deque[float] = collections.deque(maxlen=RECENT_ITERATIONS)
        self._first_iteration: float | None = None  # lazy initialisation makes it atypical
        self._validation: float | None = None  # the longest measured in this session
        self._checkpoint: float | None = None  # the longest measured in this session
        self._state_bytes: int | None = None
        self._mark = 0.0
        self._val_started = 0.0
        self._last_ckpt = None
        self._validated_at: int | None = None
        self._stopped_at: int | None = None

    # --- measuring -------------------------------------------------------------------------
    def before_train(self, runner) -> None:
        if self.deadline is None:
            return
        left = self.deadline - time.time()
        source = (f"time_limit={self.time_limit:g} s" if self.time_limit is not None
                  else self.session_note)
        runner.logger.info(f"mapsage: time budget: {left / 60:.1f} min left for training "
                           f"({source}); a checkpoint is saved and the run ends cleanly at the "
                           "last safe moment before that")
        runner.message_hub.update_info(DEADLINE_KEY, self.deadline, resumed=False)
        self._last_ckpt = runner.message_hub.get_info("last_ckpt")

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self._first_iteration is None:  # data-loader start-up and resume skip are not counted
            self._mark = time.monotonic()

    def before_val(self, runner) -> None:
        self._val_started = time.monotonic()

    def after_val(self, runner) -> None:
        now = time.monotonic()
        if self._val_started:
            self._validation = max(self._validation or 0.0, now - self._val_started)
        self._mark = now
        self._validated_at = runner.iter

    def after_train_epoch(self, runner) -> None:
        """After a stop: validate once if the run (earlier sessions included) never has, so
        metrics.json always carries a score. The loop has ended, so the validation is logged
        and checkpointed at the iteration reached."""
        if self._stopped_at is None or self._validated_at == self._stopped_at:
            return
        from mapsage.training.scalars import read_run_scalars

        if any("mIoU" in row for row in read_run_scalars(runner.work_dir)):
            return
        runner.logger.info(f"mapsage: time budget: no validation yet in this run; validating "
                           f"at iteration {self._stopped_at} so metrics.json has a score")
        runner.val_loop.run()

    def _iteration_seconds(self) -> float:
        """The longest of the recent iterations: what the next one may take."""
        if self._iterations:
            return max(self._iterations)
        return self._first_iteration or 0.0

    def _costs(self, runner) -> Costs:
        iteration = self._iteration_seconds()
        validation = self._validation
        if validation is None:
            loader = getattr(runner.val_loop, "dataloader", None) if runner.val_loop else None
            validation = iteration * (len(loader) if loader is not None else 0)
        checkpoint = self._checkpoint
        if checkpoint is None:
            if self._state_bytes is None:  # after the first step: the optimizer's moments exist
                self._state_bytes = state_bytes(runner)
            checkpoint = max(iteration, self._state_bytes / GUESS_WRITE_BYTES_PER_S)
        return Costs(iteration, validation, checkpoint)

    def _measured_save(self, seconds: float) -> None:
        self._checkpoint = max(self._checkpoint or 0.0, seconds)

    def _schedule(self, runner) -> Schedule:
        hook = self._checkpoint_hook(runner)
        interval = hook.interval if hook is not None and hook.interval > 0 else runner.max_iters
        val_interval = getattr(runner.train_loop, "val_interval", runner.max_iters) or \
            runner.max_iters
        return Schedule(runner.max_iters, val_interval, interval)

    @staticmethod
    def _checkpoint_hook(runner) -> CheckpointHook | None:
        hooks = [h for h in runner.hooks if isinstance(h, CheckpointHook)]
        return hooks[0] if hooks else None

    # --- deciding --------------------------------------------------------------------------
    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.deadline is None:
            return
        now = time.monotonic()
        elapsed, self._mark = now - self._mark, now
        last_ckpt = runner.message_hub.get_info("last_ckpt")
        saved_now = last_ckpt != self._last_ckpt
        self._last_ckpt = last_ckpt
        if self._first_iteration is None:
            self._first_iteration = elapsed
        elif saved_now:  # this iteration's time beyond a typical (mean) one was the save
            typical = (sum(self._iterations) / len(self._iterations) if self._iterations
                       else self._first_iteration)
            self._measured_save(max(0.0, elapsed - typical))
        else:
            self._iterations.append(elapsed)
        done = runner.iter + 1  # mmengine counts this iteration after the hooks
        stop = False
        if is_main_process():
            remaining = self.deadline - time.time()
            stop = should_stop(done, remaining, self._schedule(runner), self._costs(runner))
        if get_world_size() > 1:
            flag = [stop]
            broadcast_object_list(flag, src=0)
            stop = bool(flag[0])
        if stop:
            self._stop(runner, done, saved_now)

    def _stop(self, runner, done: int, saved_now: bool) -> None:
        costs = self._costs(runner)  # the estimate that no longer fitted
        needed = reserve(self._schedule(runner).seconds_to_go_on(done, costs))
        seconds_left = self.deadline - time.time()
        hook = self._checkpoint_hook(runner)
        if not saved_now and hook is not None:
            runner.logger.info(f"mapsage: time budget: saving a checkpoint at {done} iterations")
            started = time.monotonic()
            # the run's own CheckpointHook writes iter_N.pth, last_checkpoint and keeps its
            # max_keep_ckpts bookkeeping, exactly as for a scheduled save (mmengine 0.10.7)
            hook._save_checkpoint(runner)
            self._measured_save(time.monotonic() - started)
            self._last_ckpt = runner.message_hub.get_info("last_ckpt")
        status = {
            "status": "time_limit", "iteration": done, "max_iters": runner.max_iters,
            "deadline_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.deadline)),
            "seconds_left": round(seconds_left, 1),
            "needed_to_go_on_s": round(needed, 1),
            "seconds_per_iteration": round(costs.iteration, 4),
            "validation_s": round(costs.validation, 2),
            "checkpoint_s": round(self._checkpoint if self._checkpoint is not None
                                  else costs.checkpoint, 2),
        }
        # resumed=False: a continuation resuming from this checkpoint must not inherit the stop
        runner.message_hub.update_info(STATUS_KEY, status, resumed=False)
        runner.train_loop.stop_training = True
        self._stopped_at = done
        runner.logger.info(
            f"mapsage: time budget: stopping at iteration {done} of {runner.max_iters}: "
            f"{max(0.0, seconds_left):.0f} s are left, one more iteration with its save (and "
            f"validation, if due) needs ~{needed:.0f} s with the margin. Continue with "
            "resume=auto in the same work_dir (on Kaggle: mapsage build kaggle --continue-from "
            "OWNER/SLUG).")
