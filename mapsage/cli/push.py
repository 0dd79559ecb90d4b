"""``mapsage push BUNDLE``: push a built kernel with the Kaggle API, follow it, fetch its outputs.

``--until-finished`` chains the parts of a long run (:mod:`mapsage.kaggle.chain`): while a part
ends at the session's time limit, the next is built and pushed, and a table of the parts ends it.
"""

from __future__ import annotations

from pathlib import Path

from mapsage.artefacts import METRICS

NAME = "push"
HELP = "push a built kernel to Kaggle, wait, download its outputs"
DEFAULT_MAX_PARTS = 10
"""mapsage.kaggle.chain.DEFAULT_MAX_PARTS (not imported here: building the parser stays light)."""


def add_arguments(p) -> None:
    """Add this command\'s arguments to its parser ``p``."""
    p.add_argument("bundle", help="a folder written by `mapsage build kaggle`")
    p.add_argument("--no-wait", action="store_true", help="return after the push")
    p.add_argument("--poll", type=float, default=30.0, help="seconds between status checks")
    p.add_argument("-o", "--output",
                   help="where to download outputs (default: runs/kaggle/SLUG; with "
                        "--until-finished, the folder that gets one SLUG/ per part)")
    p.add_argument("--until-finished", action="store_true",
                   help="while a part ends with status time_limit, build the next part "
                        "(--continue-from, same parameters) and push it; end with a table of "
                        "the parts (docs/long-runs.md)")
    p.add_argument("--max-parts", type=int, default=DEFAULT_MAX_PARTS, metavar="N",
                   help=f"with --until-finished: stop after N parts (default {DEFAULT_MAX_PARTS})")


def run(args) -> int:
    """Run the command with the parsed ``args``; return its exit code."""
    from mapsage.errors import MapSageError
    from mapsage.kaggle.push import push
    from mapsage.results.record import read_metrics
    from mapsage.results.report import one_line

    if args.until_finished:
        from mapsage.kaggle.chain import until_finished

        if args.no_wait:
            raise MapSageError("--until-finished follows every part to its end: drop --no-wait "
                               "(or --until-finished to push one part and return).")
        until_finished(Path(args.bundle), max_parts=args.max_parts, poll_s=args.poll,
                       download_root=Path(args.output) if args.output else None)
        return 0
    out = push(Path(args.bundle), wait=not args.no_wait, poll_s=args.poll,
               download_to=Path(args.output) if args.output else None)
    if out is not None:
        for metrics in sorted(out.rglob(METRICS)):
            print(f"{metrics}: {one_line(read_metrics(metrics)[1])}")
    return 0
