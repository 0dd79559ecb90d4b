"""``mapsage notebook build|check``: generate notebooks from their jupytext sources, or fail
when a committed notebook differs from what its source generates."""

from __future__ import annotations

from pathlib import Path

NAME = "notebook"
HELP = "generate notebooks from their sources, or check they are in sync"


def add_arguments(p) -> None:
    """Add this command\'s arguments to its parser ``p``."""
    p.add_argument("action", choices=["build", "check"])
    p.add_argument("sources", nargs="*", help="jupytext sources (default: notebooks/*.py)")


def run(args) -> int:
    """Run the command with the parsed ``args``; return its exit code."""
    from mapsage.notebook import render

    sources = [Path(s) for s in args.sources] or render.sources()
    if args.action == "build":
        for source in sources:
            print(f"wrote {render.build(source)}")
        return 0
    problems = [line for source in sources for line in render.check(source)]
    for line in problems:
        print(line)
    if not problems:
        print(f"in sync: {', '.join(str(render.target_for(s)) for s in sources)}")
    return 1 if problems else 0
