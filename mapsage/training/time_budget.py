"""The rules of the time budget (:class:`mapsage.training.hooks.time_budget.TimeBudgetHook`,
whose docstring tells the whole story): the deadline, the costs of going on by one iteration,
when to stop, and the run's status as the results read it (:func:`run_status`)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from mapsage.errors import MapSageError

STATUS_KEY = "mapsage_time_budget"
DEADLINE_KEY = "mapsage_time_budget_deadline"
RECENT_ITERATIONS = 50
SAFETY_FACTOR = 1.5  # the measured costs vary (page cache, other processes, GC): reserve more
SAFETY_S = 5.0  # plus the end-of-run writes (metrics.json, pictures) and scheduling noise
GUESS_WRITE_BYTES_PER_S = 50e6  # a save not yet measured: a slow disk's rate, on purpose


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
        return iteration > 0 and (iteration % interval == 0 or iteration == self.max_iters)

    def seconds_to_go_on(self, done: int, costs: Costs) -> float:
        """Going on from ``done`` completed iterations by one and stopping cleanly after it:
        the validation due now (it runs either way), the iteration, the validation of the
        iteration reached (the schedule's, or the one every run ends with,
        :mod:`mapsage.training.hooks.final_validation`) and a save (the schedule's or the stop's)."""
        validations = self.due(done, self.val_interval) + 1
        return costs.iteration + validations * costs.validation + costs.checkpoint


def reserve(seconds: float) -> float:
    """An estimate with the safety margin on top."""
    return seconds * SAFETY_FACTOR + SAFETY_S


def should_stop(done: int, remaining: float, schedule: Schedule, costs: Costs) -> bool:
    """True when going on by one iteration (and stopping cleanly after it) no longer fits in
    ``remaining`` seconds, with the margin: the last safe moment to stop is now."""
    if done >= schedule.max_iters:
        return False
    return reserve(schedule.seconds_to_go_on(done, costs)) > remaining


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
    """``{"status": "time_limit", ..., "unused_s": ...}`` when the hook stopped this run, else
    ``"finished"``. ``unused_s``: seconds of the budget left now, as the results are written
    (negative: the deadline has passed)."""
    stopped = runner.message_hub.get_info(STATUS_KEY)
    if stopped:
        status = dict(stopped)
        deadline = runner.message_hub.get_info(DEADLINE_KEY)
        if deadline is not None:
            status["unused_s"] = round(deadline - time.time(), 1)
        return status
    return {"status": "finished", "iteration": runner.iter}
