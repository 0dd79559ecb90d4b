"""How long a Kaggle session has left: the default of the ``time_limit`` parameter on Kaggle.

Kaggle ends a notebook session at a fixed wall-clock limit counted from the session's start; a
version whose training is still running then fails and its outputs are lost. A kernel is not told
when its session started, so MapSage takes the start time of the container's first process
(PID 1, from ``/proc/1/stat`` and the boot time in ``/proc/stat``): each Kaggle session is a
fresh container, started when the session starts. The assumption is checked where it can be:
a PID 1 older than a whole session cannot be a session's container (a laptop, a CI machine, a
long-lived VM), and then there is no default limit; nor is there in a rehearsal
(``MAPSAGE_KAGGLE_ROOT`` set), which simulates Kaggle's file system, not its clock.
``MAPSAGE_KAGGLE_SESSION_START`` (seconds since the epoch) sets the start, for rehearsals and for
anyone who knows better. A value that cannot be a session's start (not a number, NaN or
infinite, in the future, or longer ago than a session lasts) is refused with
:class:`~mapsage.errors.MapSageError`: NaN used to switch the time budget off silently and
``-inf`` crashed it with an ``OverflowError``.

Standard library only: envcheck's first checks and the training's time budget both use it.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

from envcheck.errors import MapSageError  # the root of the one exception hierarchy
from envcheck.kaggle_paths import REHEARSAL_ROOT_ENV

SESSION_LIMIT_S = 12 * 3600
"""Kaggle's limit on one CPU or GPU notebook session: 12 hours (it was 9 hours until 2023; TPU
sessions have 9). Check Kaggle's documentation when it changes."""
SAFETY_MARGIN_S = 20 * 60
"""Left unused at the end of a session: the final validation, metrics.json and plots, the rest
of the notebook, and Kaggle copying /kaggle/working (checkpoints included) to the outputs."""
START_ENV = "MAPSAGE_KAGGLE_SESSION_START"
CLOCK_SKEW_S = 60
"""How far in the future a given session start may lie (clocks of two machines disagree)."""


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise OSError("/proc/stat has no btime line")


def process_start_time(pid: int | str = "self") -> float:
    """When process ``pid`` started, in seconds since the epoch (Linux /proc)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()  # the name in parentheses may hold spaces
    ticks = int(fields[19])  # field 22, starttime, counted from field 3 here
    return _boot_time() + ticks / os.sysconf("SC_CLK_TCK")


def session_started_at(now: float | None = None) -> tuple[float | None, str]:
    """(start of this Kaggle session in epoch seconds or None when unknown, how it was found)."""
    now = time.time() if now is None else now
    if os.environ.get(START_ENV):
        return given_start(os.environ[START_ENV], now), f"{START_ENV}"
    if os.environ.get(REHEARSAL_ROOT_ENV):
        return None, (f"a rehearsal ({REHEARSAL_ROOT_ENV} set) has no Kaggle session clock; set "
                      f"{START_ENV} to simulate one")
    try:
        started = process_start_time(1)
    except (OSError, ValueError, IndexError) as exc:
        return None, f"the container's start is unreadable ({exc})"
    if now - started > SESSION_LIMIT_S:
        return None, (f"PID 1 started {(now - started) / 3600:.1f} h ago, longer than a Kaggle "
                      "session lasts: this is not a fresh session container")
    return started, "start of the container's first process (PID 1)"


def given_start(raw: str, now: float) -> float:
    """The session start ``raw`` (``MAPSAGE_KAGGLE_SESSION_START``) as epoch seconds, or a
    MapSageError when it cannot be the start of a session running at ``now``."""
    try:
        started = float(raw)
    except ValueError:
        started, why = None, "not a number"
    else:
        why = ("not a finite number" if not math.isfinite(started) else
               f"{started - now:.0f} s in the future" if started > now + CLOCK_SKEW_S else
               f"{(now - started) / 3600:.1f} h ago, longer than a Kaggle session lasts "
               f"({SESSION_LIMIT_S / 3600:g} h)" if now - started > SESSION_LIMIT_S else None)
    if why is None:
        return started
    raise MapSageError(
        f"{START_ENV}={raw!r} cannot be the start of this Kaggle session: it is {why}. It must "
        f"be the session's start in seconds since the epoch, at most {SESSION_LIMIT_S / 3600:g} h "
        f"ago and not in the future (now is {now:.0f}; `date +%s` prints it). Set it right or "
        "unset it (then the container's start is used); the time budget depends on it."
    )


def session_deadline(now: float | None = None) -> tuple[float | None, str]:
    """(epoch time by which training must have stopped, explanation); None when unknown.

    The session's start plus :data:`SESSION_LIMIT_S` minus :data:`SAFETY_MARGIN_S`.
    """
    started, how = session_started_at(now)
    if started is None:
        return None, how
    deadline = started + SESSION_LIMIT_S - SAFETY_MARGIN_S
    return deadline, (f"Kaggle session limit {SESSION_LIMIT_S / 3600:g} h from the session's "
                      f"start ({how}) minus a {SAFETY_MARGIN_S / 60:g} min margin")


def session_remaining(now: float | None = None) -> float | None:
    """Seconds left for training in this session (None when the start is unknown)."""
    now = time.time() if now is None else now
    deadline, _ = session_deadline(now)
    return None if deadline is None else deadline - now
