"""The time budget's arithmetic (when to stop) and where its deadline comes from."""

from __future__ import annotations

import os
import time

import pytest

from envcheck import session
from envcheck.kaggle_paths import REHEARSAL_ROOT_ENV
from mapsage.errors import MapSageError
from mapsage.training.time_budget import (
    Costs,
    Schedule,
    reserve,
    resolve_deadline,
    should_stop,
)

SCHEDULE = Schedule(max_iters=1000, val_interval=200, checkpoint_interval=100)
COSTS = Costs(iteration=1.0, validation=30.0, checkpoint=5.0)


@pytest.mark.parametrize(("done", "expected"), [
    (0, 1 + 30 + 5),         # one iteration, the validation a stop after it ends with, a save
    (150, 1 + 30 + 5),       # off the schedule: the validation and the save are the stop's own
    (199, 1 + 30 + 5),       # the validation due at 200 is the one it ends with
    (200, 30 + 1 + 30 + 5),  # the validation due at 200 runs first
    (999, 1 + 30 + 5),       # the last iteration validates and saves
])
def test_going_on_costs_an_iteration_the_validation_a_run_ends_with_and_a_save(done, expected):
    assert SCHEDULE.seconds_to_go_on(done, COSTS) == pytest.approx(expected)


def test_stops_at_the_last_safe_moment_whatever_the_checkpoint_schedule():
    """Issue #21: checkpoint_interval 20 and 22 s left after iteration 1 of 60 stopped the run
    at once (the next scheduled checkpoint needed ~113 s). One more iteration and a save fit,
    so training goes on; it stops only when they no longer do."""
    issue = Schedule(max_iters=60, val_interval=20, checkpoint_interval=20)
    costs = Costs(iteration=1.0, validation=5.0, checkpoint=2.0)
    assert not should_stop(1, remaining=22.0, schedule=issue, costs=costs)
    needed = reserve(issue.seconds_to_go_on(5, costs))
    assert needed > issue.seconds_to_go_on(5, costs), "the margin comes on top"
    assert not should_stop(5, remaining=needed + 0.01, schedule=issue, costs=costs)
    assert should_stop(5, remaining=needed - 0.01, schedule=issue, costs=costs)
    assert should_stop(1, remaining=-5.0, schedule=SCHEDULE, costs=COSTS)
    assert not should_stop(1000, remaining=-5.0, schedule=SCHEDULE, costs=COSTS), \
        "a finished run is not stopped"


def test_deadline_is_the_earlier_of_time_limit_and_the_kaggle_session():
    start = 1_000_000.0
    assert resolve_deadline(None, start, on_kaggle=False, session_deadline=None) is None
    assert resolve_deadline(None, start, on_kaggle=False, session_deadline=start + 5) is None
    assert resolve_deadline(60.0, start, on_kaggle=False, session_deadline=None) == start + 60
    assert resolve_deadline(None, start, on_kaggle=True, session_deadline=start + 500) == start + 500
    assert resolve_deadline(60.0, start, on_kaggle=True, session_deadline=start + 500) == start + 60
    assert resolve_deadline(9e9, start, on_kaggle=True, session_deadline=start + 500) == start + 500


def test_kaggle_session_default_is_limit_minus_margin_minus_time_spent(monkeypatch):
    now = time.time()
    monkeypatch.setenv(session.START_ENV, str(now - 3600))  # an hour into the session
    deadline, why = session.session_deadline(now)
    assert deadline == pytest.approx(now - 3600 + session.SESSION_LIMIT_S - session.SAFETY_MARGIN_S)
    assert session.session_remaining(now) == pytest.approx(
        session.SESSION_LIMIT_S - session.SAFETY_MARGIN_S - 3600)
    assert "12 h" in why


def test_session_start_from_pid_1_is_refused_when_older_than_a_session(monkeypatch):
    monkeypatch.delenv(session.START_ENV, raising=False)
    monkeypatch.delenv(REHEARSAL_ROOT_ENV, raising=False)
    started = session.process_start_time(1)
    assert started <= time.time()
    found, why = session.session_started_at(now=started + session.SESSION_LIMIT_S + 60)
    assert found is None and "not a fresh session container" in why
    found, why = session.session_started_at(now=started + 60)
    assert found == pytest.approx(started) and "PID 1" in why


def test_process_start_time_of_this_process_is_in_the_recent_past():
    assert 0 <= time.time() - session.process_start_time(os.getpid()) < 24 * 3600


def test_a_rehearsal_has_no_session_clock_unless_one_is_set(monkeypatch, tmp_path):
    monkeypatch.setenv(REHEARSAL_ROOT_ENV, str(tmp_path))
    monkeypatch.delenv(session.START_ENV, raising=False)
    assert session.session_deadline() == (None, session.session_started_at()[1])
    assert "rehearsal" in session.session_started_at()[1]
    started = time.time() - 1000
    monkeypatch.setenv(session.START_ENV, repr(started))
    assert session.session_started_at()[0] == started


@pytest.mark.parametrize(("value", "why"), [
    ("yesterday", "it is not a number"),
    ("nan", "it is not a finite number"),  # silently switched the time budget off
    ("-inf", "it is not a finite number"),  # OverflowError in the stop's report
    ("inf", "it is not a finite number"),
    (lambda now: repr(now + 3600), "it is 3600 s in the future"),
    (lambda now: repr(now - 13 * 3600), "13.0 h ago, longer than a Kaggle session lasts (12 h)"),
    ("1000", "h ago, longer than a Kaggle session lasts"),
])
def test_a_bad_session_start_override_is_refused_naming_it(monkeypatch, value, why):
    now = time.time()
    text = value(now) if callable(value) else value
    monkeypatch.setenv(session.START_ENV, text)
    with pytest.raises(MapSageError) as err:
        session.session_deadline(now)
    message = str(err.value)
    assert f"{session.START_ENV}={text!r} cannot be the start of this Kaggle session" in message
    assert why in message and "unset it" in message


@pytest.mark.parametrize("value", ["nan", "-inf"])
def test_the_time_budget_hook_refuses_a_non_finite_session_start(monkeypatch, tmp_path, value):
    """Built as the Runner builds it, in a Kaggle rehearsal (where the session's deadline is
    the default limit): a clear error before training, not a limit silently off or a crash."""
    from mapsage.training.hooks.time_budget import TimeBudgetHook

    monkeypatch.setenv(REHEARSAL_ROOT_ENV, str(tmp_path))
    monkeypatch.setenv(session.START_ENV, value)
    with pytest.raises(MapSageError, match="not a finite number"):
        TimeBudgetHook(time_limit=None)


def test_a_non_finite_deadline_is_refused():
    with pytest.raises(MapSageError, match="time_limit=nan: it is not a finite number"):
        resolve_deadline(float("nan"), 1_000_000.0, on_kaggle=False, session_deadline=None)
    with pytest.raises(MapSageError, match="the Kaggle session's deadline -inf"):
        resolve_deadline(None, 1_000_000.0, on_kaggle=True, session_deadline=float("-inf"))
