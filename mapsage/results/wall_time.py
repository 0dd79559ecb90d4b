"""A run's wall time over all its sessions (``metrics.json``'s ``wall_time_s``).

A run resumed in a new session (``resume=auto``, a Kaggle continuation) writes ``metrics.json``
again; its ``wall_time_s`` is the sum over the run's sessions, as the history is one history
over them. Each session is listed under ``sessions`` (its log folder, wall time, the iteration
it ended at and its status); this session's own time is ``session_wall_time_s``. The earlier
sessions come from the ``metrics.json`` the work_dir holds when a resumed session starts (one
written before sessions were listed counts as one session). A session that ended without
writing ``metrics.json`` (killed) is not counted.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from mapsage.errors import InputError


def _seconds(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value >= 0)


def _refuse(path: Path, what: str) -> InputError:
    return InputError(
        f"{str(path)!r} cannot give the earlier sessions' wall time of this resumed run: {what}. "
        "A MapSage metrics.json has 'wall_time_s' (seconds, a number of 0 or more) and may list "
        "'sessions' (objects with 'wall_time_s'). Move the file out of the work_dir and resume "
        "again (the earlier sessions' time is then not counted), or restore the file the run "
        "wrote. Nothing was trained."
    )


def earlier_sessions(path: str | Path) -> list[dict]:
    """The sessions an existing ``metrics.json`` records ([] when there is none); a file that
    cannot be read as one is refused (InputError) rather than silently restarting the sum."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text())
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _refuse(path, f"it is not valid JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise _refuse(path, f"its top level is {type(data).__name__}, not an object")
    sessions = data.get("sessions")
    if sessions is None:  # written before sessions were listed: one session
        if not _seconds(data.get("wall_time_s")):
            raise _refuse(path, f"its wall_time_s is {data.get('wall_time_s')!r}")
        return [{"log_dir": None, "wall_time_s": data["wall_time_s"],
                 "iterations": data.get("iterations"), "status": data.get("status")}]
    if not isinstance(sessions, list):
        raise _refuse(path, f"its sessions is {type(sessions).__name__}, not a list")
    for index, session in enumerate(sessions):
        if not (isinstance(session, dict) and _seconds(session.get("wall_time_s"))):
            raise _refuse(path, f"its sessions[{index}] is {session!r}")
    return [dict(s) for s in sessions]


def run_wall_time(earlier: list[dict], this_session: dict) -> dict:
    """``wall_time_s`` (every session), ``session_wall_time_s`` (this one) and ``sessions``.
    An earlier entry with this session's log folder (metrics.json written twice in one
    session) is replaced, not counted twice."""
    log_dir = this_session.get("log_dir")
    sessions = [s for s in earlier if log_dir is None or s.get("log_dir") != log_dir]
    sessions.append(dict(this_session))
    return {"wall_time_s": round(sum(s["wall_time_s"] for s in sessions), 2),
            "session_wall_time_s": this_session["wall_time_s"], "sessions": sessions}
