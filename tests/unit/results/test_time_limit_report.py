"""A run stopped by the time budget says so, and how to continue, wherever its metrics are shown."""

from __future__ import annotations

from mapsage.results.record import build_metrics
from mapsage.results.report import metrics_table, one_line

ROWS = [{"step": 10, "loss": 1.5, "lr": 0.001},
        {"step": 10, "aAcc": 50.0, "mIoU": 20.0, "mAcc": 30.0, "IoU.road": 20.0, "Acc.road": 30.0}]


def _metrics(**extra) -> dict:
    return build_metrics(ROWS, ["road"], best_checkpoint=None, iterations=10, wall_time_s=5.0,
                         **extra)


def test_time_limited_run_names_the_iterations_and_the_continuation():
    metrics = _metrics(status="time_limit", time_limit={"iteration": 10, "max_iters": 40})
    table = metrics_table(metrics)
    assert "Stopped at the time limit after 10 of 40 iterations" in table
    assert "--continue-from OWNER/SLUG" in table
    assert "stopped at the time limit" in one_line(metrics)


def test_finished_run_has_no_note():
    metrics = _metrics(status="finished")
    assert "time limit" not in metrics_table(metrics) + one_line(metrics)
