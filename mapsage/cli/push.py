"""``mapsage push BUNDLE``: push a built kernel with the Kaggle API, follow it, fetch its outputs."""

from __future__ import annotations

from pathlib import Path

NAME = "push"
HELP = "push a built kernel to Kaggle, wait, download its outputs"


def add_arguments(p) -> None:
    """Add this command\'s arguments to its parser ``p``."""
    p.add_argument("bundle", help="a folder written by `mapsage build kaggle`")
    p.add_argument("--no-wait", action="store_true", help="return after the push")
    p.add_argument("--poll", type=float, default=30.0, help="seconds between status checks")
    p.add_argument("-o", "--output", help="where to download outputs (default: runs/kaggle/SLUG)")


def run(args) -> int:
    """Run the command with the parsed ``args``; return its exit code."""
    from mapsage.kaggle.push import push
    from mapsage.results.record import read_metrics
    from mapsage.results.report import one_line

    out = push(Path(args.bundle), wait=not args.no_wait, poll_s=args.poll,
               download_to=Path(args.output) if args.output else None)
    if out is not None:
        for metrics in sorted(out.rglob("metrics.json")):
            print(f"{metrics}: {one_line(read_metrics(metrics)[1])}")
    return 0
