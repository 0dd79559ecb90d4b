"""``mapsage build kaggle``: turn ``kaggle/*/kernel.json`` definitions into pushable notebooks."""

from __future__ import annotations

from pathlib import Path

NAME = "build"
HELP = "build pushable Kaggle notebooks from kaggle/*/kernel.json"


def add_arguments(p) -> None:
    """Add this command\'s arguments to its parser ``p``."""
    p.add_argument("target", choices=["kaggle"])
    p.add_argument("--kernel", action="append", default=[], help="kernel folder (default: all)")
    p.add_argument("--owner", help="Kaggle user name (default: KAGGLE_USERNAME / kaggle.json)")
    p.add_argument("--out", help="output folder (default: build/kaggle)")
    p.add_argument("--continue-from", metavar="OWNER/SLUG",
                   help="build the next part of a long run: attaches that kernel's output, "
                        "copies its work_dir and resumes to max_iters (docs/long-runs.md)")


def run(args) -> int:
    """Run the command with the parsed ``args``; return its exit code."""
    from mapsage.kaggle.build import BUILD_DIR, build, untracked_bundle_files
    from mapsage.paths import KERNELS_DIR

    kernels = [Path(k) for k in args.kernel] or sorted(
        p for p in KERNELS_DIR.iterdir() if (p / "kernel.json").is_file())
    if args.continue_from:
        from mapsage.kaggle.continuation import definition_of

        kernels = [definition_of(args.continue_from, kernels)]
    left_out = untracked_bundle_files()
    if left_out:
        shown = "".join(f"\n  {name}" for name in left_out[:10])
        more = f"\n  ... and {len(left_out) - 10} more" if len(left_out) > 10 else ""
        print(f"note: {len(left_out)} file(s) git does not track are not in the bundle:"
              f"{shown}{more}\n  git add them to ship them to Kaggle.")
    for kernel in kernels:
        target = build(kernel, owner=args.owner, out_dir=Path(args.out or BUILD_DIR),
                       continue_from=args.continue_from)
        print(f"built {target}\n  push it with: mapsage push {target}   "
              f"(or: kaggle kernels push -p {target})")
    return 0
