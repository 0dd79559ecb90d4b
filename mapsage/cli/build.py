"""``mapsage build kaggle``: turn ``kaggle/*/kernel.json`` definitions into pushable notebooks.

Parameters come as in ``mapsage run`` (``-f`` files, then ``-p KEY VALUE``, over each
definition's params.yaml; the same schema and reader), the LoveDA (and checkpoint) data set from
``--loveda-source`` / ``--checkpoint-source`` over kernel.json's. Every definition is read and
checked before anything is written.
"""

from __future__ import annotations

from pathlib import Path

NAME = "build"
HELP = "build pushable Kaggle notebooks from kaggle/*/kernel.json"


def add_arguments(p) -> None:
    """Add this command\'s arguments to its parser ``p``."""
    p.add_argument("target", choices=["kaggle"])
    p.add_argument("--kernel", action="append", default=[],
                   help="kernel definition folder (default: all in the project's kaggle/)")
    p.add_argument("--owner", help="Kaggle user name (default: KAGGLE_USERNAME / kaggle.json, "
                                   "else the owner of --continue-from)")
    p.add_argument("--out", help="output folder (default: build/kaggle)")
    p.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("KEY", "VALUE"),
                   help="a run parameter over the definition's params.yaml (as in mapsage run)")
    p.add_argument("-r", "--parameter-raw", nargs=2, action="append", metavar=("KEY", "VALUE"),
                   help="a string parameter, not type-converted")
    p.add_argument("-f", "--parameters-file", action="append", metavar="YAML",
                   help="a YAML file of parameters over the definition's params.yaml")
    p.add_argument("--loveda-source", metavar="OWNER/SLUG",
                   help="the LoveDA data set to attach (default: kernel.json's loveda_source)")
    p.add_argument("--data-source", metavar="OWNER/SLUG",
                   help="your training data set to attach instead of LoveDA (its dataset.yaml, "
                        "or -p dataset, describes it; default: kernel.json's data_source)")
    p.add_argument("--checkpoint-source", metavar="OWNER/SLUG",
                   help="a data set holding load_from's checkpoint (default: kernel.json's)")
    p.add_argument("--measures", metavar="DEFINITION",
                   help="for the bootstrap: the training definition whose run it measures, by "
                        "folder name, e.g. train-own-data (default: kernel.json's measures)")
    p.add_argument("--continue-from", metavar="OWNER/SLUG",
                   help="build the next part of a long run: attaches that kernel's output, "
                        "copies its work_dir and resumes to max_iters (docs/long-runs.md)")


def run(args) -> int:
    """Run the command with the parsed ``args``; return its exit code."""
    from mapsage.cli.run import collect_parameters
    from mapsage.kaggle.build import BUILD_DIR, plan, write
    from mapsage.kaggle.bundle import untracked_bundle_files
    from mapsage.paths import KERNELS_DIR

    parameters = collect_parameters(args)  # a bad -p value or -f file stops here, exit 2
    kernels = [Path(k) for k in args.kernel] or sorted(
        p for p in KERNELS_DIR.iterdir() if (p / "kernel.json").is_file())
    if args.continue_from:
        from mapsage.kaggle.next_part import definition_of

        kernels = [definition_of(args.continue_from, kernels)]
    left_out = untracked_bundle_files()
    if left_out:
        shown = "".join(f"\n  {name}" for name in left_out[:10])
        more = f"\n  ... and {len(left_out) - 10} more" if len(left_out) > 10 else ""
        print(f"note: {len(left_out)} file(s) git does not track are not in the bundle:"
              f"{shown}{more}\n  git add them to ship them to Kaggle.")
    planned = [plan(kernel, owner=args.owner, parameters=parameters,
                    continue_from=args.continue_from, loveda_source=args.loveda_source,
                    data_source=args.data_source, measures=args.measures,
                    checkpoint_source=args.checkpoint_source) for kernel in kernels]
    for each in planned:  # every definition checked: now write
        target = write(each, Path(args.out or BUILD_DIR))
        chain = "" if each.spec.get("measures") else (
            f"\n  or, to push the next parts until the run finishes: "
            f"mapsage push --until-finished {target}")
        print(f"built {target}\n  push it with: mapsage push {target}   "
              f"(or: kaggle kernels push -p {target}){chain}")
    return 0
