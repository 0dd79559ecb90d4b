"""Stop training cleanly before a time limit: ``TimeBudgetHook`` (the ``time_limit`` parameter).

After every training iteration the hook asks: if training goes on to the next checkpoint
(with the validations on the way), will it be done before the deadline? The cost is estimated
from what this session measured: the mean time of the recent iterations (data loading, step and
hooks), of the last validation and of the last checkpoint save. Until a validation or a save has
been measured it is guessed (a validation: one training iteration per validation batch; a save:
one iteration). When the answer is no, the hook

1. saves a checkpoint of the iteration reached (``iter_N.pth`` through the run's own
   ``CheckpointHook``, unless that hook saved this very iteration),
2. tells mmengine's loop to stop (``train_loop.stop_training``, as ``EarlyStoppingHook`` does;
   a validation due at this iteration still runs, and a run that has never validated, in any
   of its sessions, validates once so that metrics.json has a score),
3. leaves the outcome in the message hub (:func:`run_status` reads it), so the normal end-of-run
   code writes ``metrics.json`` with ``"status": "time_limit"`` and the iteration reached, and the
   process exits 0. ``resume=auto`` in the same work_dir continues from that checkpoint.

The deadline: the training process's start plus ``time_limit`` seconds; on Kaggle never later
than the session's end minus a margin (:mod:`envcheck.session`), which is also the default
when ``time_limit`` is None. Elsewhere None means no limit. Under torchrun rank 0 decides and
broadcasts, so every process stops at the same iteration.
"""

from __future__ import annotations

import collections
import math
import time
from dataclasses import dataclass

from mmengine.dist import broadcast_object_list, get_world_size, is_main_process
from mmengine.hooks import CheckpointHook, Hook
from mmseg.registry import HOOKS

from mapsage.errors import MapSageError

STATUS_KEY = "mapsage_time_budget"
RECENT_ITERATIONS = 50


@dataclass(frozen=True)
class Costs:
    """Seconds one of each costs, as measured (or guessed) in this session."""
    iteration: float
    validation: float
    checkpoint: float


@dataclass(frozen=True)
class Schedule:
    max_iters: int
    val_interval: int
    checkpoint_interval: int

    def due(self, iteration: int, interval: int) -> bool:
        return iteration % interval == 0 or iteration == self.max_iters

    def next_checkpoint(self, done: int) -> int:
        """The first iteration after ``done`` that ends with a checkpoint."""
        step = self.checkpoint_interval
        return min(self.max_iters, (done // step + 1) * step)

    def seconds_to_next_checkpoint(self, done: int, costs: Costs) -> float:
        """Going on from ``done`` completed iterations to the next checkpoint: the validation
        due now (it runs anyway), the iterations, the validations on the way, and the save."""
        target = self.next_checkpoint(done)
        validations = sum(self.due(i, self.val_interval) for i in range(done, target + 1)
                          if i > 0)
        return ((target - done) * costs.iteration + validations * costs.validation
                + costs.checkpoint)


def should_stop(done: int, remaining: float, schedule: Schedule, costs: Costs) -> bool:
    """True when the next checkpoint cannot be reached within ``remaining`` seconds."""
    if done >= schedule.max_iters:
        return False
    return schedule.seconds_to_next_checkpoint(done, costs) > remaining


def resolve_deadline(time_limit: float | None, process_start: float, *, on_kaggle: bool,
                     session_deadline: float | None) -> float | None:
    """The epoch time by which training must stop (None: no limit). A value that is not a
    finite number is refused (MapSageError): NaN would switch the limit off unseen, an
    infinity crashes the stop's arithmetic."""
    candidates = []
    if time_limit is not None:
        candidates.append((process_start + time_limit, f"time_limit={time_limit!r}"))
    if on_kaggle and session_deadline is not None:
        candidates.append((session_deadline, f"the Kaggle session's deadline {session_deadline!r}"))
    for value, source in candidates:
        if not math.isfinite(value):
            raise MapSageError(
                f"The time budget cannot use {source}: it is not a finite number of seconds. "
                "Give time_limit as seconds (e.g. 3600), or None for no limit off Kaggle; on "
                "Kaggle check MAPSAGE_KAGGLE_SESSION_START."
            )
    return min(value for value, _ in candidates) if candidates else None


def run_status(runner) -> dict:
    """``{"status": "time_limit", ...}`` when the hook stopped this run, else ``"finished"``."""
    stopped = runner.message_hub.get_info(STATUS_KEY)
    if stopped:
        return dict(stopped)
    return {"status": "finished", "iteration": runner.iter}


@HOOKS.register_module()
class TimeBudgetHook(Hook):
    """See the module docstring. ``time_limit`` in seconds (None: Kaggle's session, or none)."""

    priority = "LOWEST"  # after CheckpointHook (VERY_LOW) has saved this iteration

    def __init__(self, time_limit: float | None = None) -> None:
        from envcheck import session
        from mapsage.kaggle import env as kaggle_env

        self.time_limit = time_limit
        session_end, self.session_note = session.session_deadline()
        self.deadline = resolve_deadline(time_limit, session.process_start_time(),
                                         on_kaggle=kaggle_env.on_kaggle(),
                                         session_deadline=session_end)
        self._iterations: collections.deque[float] = collections.deque(maxlen=RECENT_ITERATIONS)
        self._first_iteration: float | None = None  # lazy initialisation makes it atypical
        self._validation: float | None = None
        self._checkpoint: float | None = None
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
                           f"({source}); a checkpoint is saved and the run ends cleanly before "
                           "that")
        self._last_ckpt = runner.message_hub.get_info("last_ckpt")

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self._first_iteration is None:  # data-loader start-up and resume skip are not counted
            self._mark = time.monotonic()

    def before_val(self, runner) -> None:
        self._val_started = time.monotonic()

    def after_val(self, runner) -> None:
        now = time.monotonic()
        if self._val_started:
            self._validation = now - self._val_started
        self._mark = now
        self._validated_at = runner.iter

    def after_train_epoch(self, runner) -> None:
        """After a stop: validate once if the run (earlier sessions included) never has, so
        metrics.json always carries a score. The loop has ended, so the validation is logged
        and checkpointed at the iteration reached."""
        if self._stopped_at is None or self._validated_at == self._stopped_at:
            return
        from mapsage.results.record import read_run_scalars

        if any("mIoU" in row for row in read_run_scalars(runner.work_dir)):
            return
        runner.logger.info(f"mapsage: time budget: no validation yet in this run; validating "
                           f"at iteration {self._stopped_at} so metrics.json has a score")
        runner.val_loop.run()

    def _iteration_seconds(self) -> float:
        if self._iterations:
            return sum(self._iterations) / len(self._iterations)
        return self._first_iteration or 0.0

    def _costs(self, runner) -> Costs:
        iteration = self._iteration_seconds()
        validation = self._validation
        if validation is None:
            loader = getattr(runner.val_loop, "dataloader", None) if runner.val_loop else None
            validation = iteration * (len(loader) if loader is not None else 0)
        checkpoint = self._checkpoint if self._checkpoint is not None else iteration
        return Costs(iteration, validation, checkpoint)

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
        elif saved_now:
            self._checkpoint = max(0.0, elapsed - self._iteration_seconds())
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
        hook = self._checkpoint_hook(runner)
        if not saved_now and hook is not None:
            runner.logger.info(f"mapsage: time budget: saving a checkpoint at {done} iterations")
            # the run's own CheckpointHook writes iter_N.pth, last_checkpoint and keeps its
            # max_keep_ckpts bookkeeping, exactly as for a scheduled save (mmengine 0.10.7)
            hook._save_checkpoint(runner)
        costs = self._costs(runner)
        status = {
            "status": "time_limit", "iteration": done, "max_iters": runner.max_iters,
            "deadline_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.deadline)),
            "seconds_left": round(self.deadline - time.time(), 1),
            "estimate_to_next_checkpoint_s": round(
                self._schedule(runner).seconds_to_next_checkpoint(done, costs), 1),
            "seconds_per_iteration": round(costs.iteration, 4),
        }
        # resumed=False: a continuation resuming from this checkpoint must not inherit the stop
        runner.message_hub.update_info(STATUS_KEY, status, resumed=False)
        runner.train_loop.stop_training = True
        self._stopped_at = done
        runner.logger.info(
            f"mapsage: time budget: stopping at iteration {done} of {runner.max_iters}: the next "
            f"checkpoint needs ~{status['estimate_to_next_checkpoint_s']:.0f} s, "
            f"{max(0.0, status['seconds_left']):.0f} s are left. Continue with resume=auto in "
            "the same work_dir (on Kaggle: mapsage build kaggle --continue-from OWNER/SLUG).")
