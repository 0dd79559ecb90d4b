"""metrics.json's wall time over a run's sessions (issue #21): the earlier sessions as the
existing metrics.json records them, this one added (never twice), an unreadable file refused."""

from __future__ import annotations

import json

import pytest

from mapsage.errors import InputError
from mapsage.results.wall_time import earlier_sessions, run_wall_time


def test_no_metrics_json_means_no_earlier_session(tmp_path):
    assert earlier_sessions(tmp_path / "metrics.json") == []


def test_a_file_without_sessions_is_one_session(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"wall_time_s": 244.0, "iterations": 40, "status": "finished"}))
    earlier = earlier_sessions(path)
    assert earlier == [{"log_dir": None, "wall_time_s": 244.0, "iterations": 40,
                        "status": "finished"}]
    now = run_wall_time(earlier, {"log_dir": "20261206_060000", "wall_time_s": 5.0,
                                  "iterations": 40, "status": "finished"})
    assert now["wall_time_s"] == 249.0 and now["session_wall_time_s"] == 5.0
    assert [s["log_dir"] for s in now["sessions"]] == [None, "20261206_060000"]


def test_the_same_session_written_twice_counts_once():
    first = {"log_dir": "a", "wall_time_s": 10.0, "iterations": 2, "status": "time_limit"}
    again = {"log_dir": "b", "wall_time_s": 3.0, "iterations": 4, "status": "failed"}
    later = {"log_dir": "b", "wall_time_s": 7.0, "iterations": 4, "status": "finished"}
    assert run_wall_time([first, again], later)["wall_time_s"] == 17.0


@pytest.mark.parametrize(("text", "why"), [
    ("{not json", "it is not valid JSON"),
    ("[1, 2]", "its top level is list"),
    ('{"wall_time_s": -1}', "its wall_time_s is -1"),
    ('{"wall_time_s": true}', "its wall_time_s is True"),
    ('{"sessions": {}, "wall_time_s": 1}', "its sessions is dict"),
    ('{"sessions": [{"wall_time_s": "NaN"}]}', "its sessions[0] is"),
])
def test_an_unreadable_file_is_refused_naming_what_and_the_fix(tmp_path, text, why):
    path = tmp_path / "metrics.json"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        earlier_sessions(path)
    message = str(err.value)
    assert str(path) in message and why in message and "Move the file out" in message
    assert "\n" not in message
