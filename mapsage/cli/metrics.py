"""``mapsage metrics RUN``: print a run's metrics.json as a table."""

from __future__ import annotations

NAME = "metrics"
HELP = "print a run's metrics.json as a table"


def add_arguments(p) -> None:
    """Add this command\'s arguments to its parser ``p``."""
    p.add_argument("path", help="a work_dir or a metrics.json")


def run(args) -> int:
    """Run the command with the parsed ``args``; return its exit code."""
    from mapsage.results.record import read_metrics
    from mapsage.results.report import metrics_table

    _, metrics = read_metrics(args.path)
    print(metrics_table(metrics))
    return 0
