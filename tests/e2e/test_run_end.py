"""What a run leaves when it ends (issue #21): no ``.mapsage.lock`` with a dead pid, and a
``metrics.json`` whose ``wall_time_s`` is the whole run's, summed over its sessions (a no-op
resume no longer replaces it with its own few seconds), with the last session's under
``session_wall_time_s``. Real training processes (the tiny model, CPU)."""

from __future__ import annotations

import json
import shutil

import pytest

from mapsage.training.workdir_lock import LOCK_NAME, holder_of

pytestmark = pytest.mark.slow


def test_a_finished_run_leaves_no_lock_file(finished_run):
    assert not (finished_run / LOCK_NAME).exists()
    assert holder_of(finished_run) is None
    assert (finished_run / "metrics.json").is_file()


def test_wall_time_is_summed_over_the_sessions_of_a_run(finished_run, tiny_training, tmp_path):
    work_dir = tmp_path / "run"
    shutil.copytree(finished_run, work_dir)
    first = json.loads((work_dir / "metrics.json").read_text())
    assert first["wall_time_s"] == first["session_wall_time_s"] > 0
    assert [s["wall_time_s"] for s in first["sessions"]] == [first["wall_time_s"]]

    proc = tiny_training(work_dir, "resume=auto")  # at max_iters already: a no-op session
    assert proc.returncode == 0, proc.stderr[-3000:]
    second = json.loads((work_dir / "metrics.json").read_text())
    assert second["iterations"] == first["iterations"]
    assert second["sessions"][0] == first["sessions"][0]
    assert len(second["sessions"]) == 2
    session = second["sessions"][1]
    assert session["wall_time_s"] == second["session_wall_time_s"] > 0
    assert session["log_dir"] != first["sessions"][0]["log_dir"]
    assert (work_dir / session["log_dir"]).is_dir()
    assert second["wall_time_s"] == pytest.approx(
        first["wall_time_s"] + second["session_wall_time_s"], abs=0.011)
    assert not (work_dir / LOCK_NAME).exists()


def test_a_metrics_json_written_before_sessions_were_listed_counts_as_one(finished_run,
                                                                          tiny_training,
                                                                          tmp_path):
    work_dir = tmp_path / "run"
    shutil.copytree(finished_run, work_dir)
    old = json.loads((work_dir / "metrics.json").read_text())
    for key in ("sessions", "session_wall_time_s"):
        old.pop(key)
    old["wall_time_s"] = 244.0  # the run
    (work_dir / "metrics.json").write_text(json.dumps(old))
    proc = tiny_training(work_dir, "resume=auto")
    assert proc.returncode == 0, proc.stderr[-3000:]
    now = json.loads((work_dir / "metrics.json").read_text())
    assert now["sessions"][0]["wall_time_s"] == 244.0
    assert now["wall_time_s"] == pytest.approx(244.0 + now["session_wall_time_s"], abs=0.011)


def test_an_unreadable_metrics_json_is_refused_before_a_resumed_session_trains(
        finished_run, tiny_training, tmp_path):
    work_dir = tmp_path / "run"
    shutil.copytree(finished_run, work_dir)
    (work_dir / "metrics.json").write_text('{"wall_time_s": "long"}')
    proc = tiny_training(work_dir, "resume=auto")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert "metrics.json" in proc.stderr and "'long'" in proc.stderr
    assert "Move the file out of the work_dir" in proc.stderr
    assert not (work_dir / LOCK_NAME).exists()
