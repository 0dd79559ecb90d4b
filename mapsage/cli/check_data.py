"""``mapsage check-data DATA_ROOT``: check a LoveDA tree the way every training run does."""

from __future__ import annotations

NAME = "check-data"
HELP = "check a LoveDA tree (the check every run makes)"


def add_arguments(p) -> None:
    """Add this command\'s arguments to its parser ``p``."""
    p.add_argument("data_root")
    p.add_argument("--all-masks", action="store_true",
                   help="read every image completely and decode every mask (a training run "
                        "reads every file's header and decodes an evenly spread sample)")


def run(args) -> int:
    """Run the command with the parsed ``args``; return its exit code."""
    from mapsage.data.check import check_layout
    from mapsage.data.layout import find_loveda

    scan = check_layout(find_loveda(args.data_root), check_all_masks=args.all_masks)
    for problem in scan.problems:
        print(f"  - {problem}")
    print(f"{args.data_root}: {len(scan.problems)} problem(s)")
    return 1 if scan.problems else 0
