"""``mapsage compare RUN_A RUN_B``: two runs side by side (per-class IoU change, curves)."""

from __future__ import annotations

from pathlib import Path

NAME = "compare"
HELP = "two runs side by side: per-class IoU change, curves"


def add_arguments(p) -> None:
    """Add this command\'s arguments to its parser ``p``."""
    p.add_argument("run_a")
    p.add_argument("run_b")
    p.add_argument("--out", default="runs/compare", help="where compare.md and the PNG go")


def run(args) -> int:
    """Run the command with the parsed ``args``; return its exit code."""
    from mapsage.results import plots
    from mapsage.results.record import read_metrics
    from mapsage.results.report import compare_table
    from mapsage.safe_write import write_text

    a, b = read_metrics(args.run_a), read_metrics(args.run_b)
    if a[0] == b[0]:
        a, b = (f"A: {a[0]}", a[1]), (f"B: {b[0]}", b[1])
    table = compare_table(a, b)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    picture = plots.compare_curves([a, b], out / "compare_curves.png")
    write_text(out / "compare.md",
               f"# {a[0]} vs {b[0]}\n\n{table}\n\n![curves]({picture.name})\n")
    print(table)
    print(f"\nwrote {out / 'compare.md'} and {picture}")
    return 0
