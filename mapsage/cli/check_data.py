"""``mapsage check-data DATA_ROOT [--dataset X]``: check a data set the way every training run
does (LoveDA, or the folder data set its ``dataset.yaml`` or ``--dataset`` describes)."""

from __future__ import annotations

NAME = "check-data"
HELP = "check a data set's folders (the check every run makes)"


def add_arguments(p) -> None:
    """Add this command\'s arguments to its parser ``p``."""
    p.add_argument("data_root")
    p.add_argument("--dataset", default=None,
                   help="the data set's description: the path of a dataset.yaml, 'loveda', or "
                        "one written inline ('{classes: [background, roof]}'); default: the "
                        "dataset.yaml found under DATA_ROOT, else LoveDA (docs/datasets.md)")
    p.add_argument("--all-masks", action="store_true",
                   help="read every image completely and decode every mask (a training run "
                        "reads every file's header and decodes an evenly spread sample)")


def run(args) -> int:
    """Run the command with the parsed ``args``; return its exit code (1: problems found)."""
    from mapsage.data.check import check_layout, describe
    from mapsage.data.layout import find_layout

    layout = find_layout(args.data_root, args.dataset)
    scan = check_layout(layout, check_all_masks=args.all_masks, progress=print)
    for problem in scan.problems:
        print(f"  - {problem}")
    if scan.problems:
        print(f"{args.data_root}: {len(scan.problems)} problem(s)")
        return 1
    print(f"{args.data_root}: 0 problem(s): found {describe(layout, scan)}")
    return 0
