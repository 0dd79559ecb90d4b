"""``mapsage`` command line: synth, run, notebook, metrics, provision.

User errors (MapSageError) print as one clear paragraph and exit 2; ``--debug`` shows the
traceback. A failing notebook exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mapsage.errors import MapSageError


def _resolve(text: str) -> Any:
    """Parse a ``-p`` value the way papermill's own CLI does (bool, None, int, float, str)."""
    if text in ("True", "true"):
        return True
    if text in ("False", "false"):
        return False
    if text in ("None", "none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def cmd_synth(args) -> int:
    from mapsage.data.synth import SynthSpec, generate

    generate(args.out, SynthSpec(size=args.size, train_per_domain=args.train_per_domain,
                                 val_per_domain=args.val_per_domain, seed=args.seed))
    return 0


def cmd_run(args) -> int:
    from mapsage.notebook import execute as run
    from mapsage.results.report import one_line

    parameters: dict[str, Any] = {}
    for path in args.parameters_file or []:
        parameters.update(run.load_parameter_file(path))
    for key, value in args.parameter or []:
        parameters[key] = _resolve(value)
    for key, value in args.parameter_raw or []:
        parameters[key] = value
    output = run.execute(args.notebook, args.output, parameters, cwd=args.cwd,
                         log_output=not args.quiet)
    params = run.validate(parameters)
    metrics_path = Path(params.work_dir) / "metrics.json"
    print(f"executed notebook: {output}")
    if metrics_path.is_file():
        print(f"metrics: {metrics_path}\n  {one_line(json.loads(metrics_path.read_text()))}")
    return 0


def cmd_notebook(args) -> int:
    from mapsage.notebook import render as notebook

    sources = [Path(s) for s in args.sources] or notebook.sources()
    if args.action == "build":
        for source in sources:
            print(f"wrote {notebook.build(source)}")
        return 0
    problems = [line for source in sources for line in notebook.check(source)]
    for line in problems:
        print(line)
    if not problems:
        print(f"in sync: {', '.join(str(notebook.target_for(s)) for s in sources)}")
    return 1 if problems else 0


def cmd_metrics(args) -> int:
    from mapsage.results.report import metrics_table

    path = Path(args.path)
    if path.is_dir():
        path = path / "metrics.json"
    if not path.is_file():
        raise MapSageError(f"{str(path)!r} does not exist: point at a run's work_dir or metrics.json.")
    print(metrics_table(json.loads(path.read_text())))
    return 0


def _load_run(path: str) -> tuple[str, dict]:
    run = Path(path)
    metrics = run / "metrics.json" if run.is_dir() else run
    if not metrics.is_file():
        raise MapSageError(f"{str(metrics)!r} does not exist: give a run's work_dir or metrics.json.")
    name = (metrics.parent.name if metrics.name == "metrics.json" else metrics.stem)
    return name, json.loads(metrics.read_text())


def cmd_compare(args) -> int:
    from mapsage.results import plots
    from mapsage.results.report import compare_table

    a, b = _load_run(args.run_a), _load_run(args.run_b)
    if a[0] == b[0]:
        a, b = (f"A: {a[0]}", a[1]), (f"B: {b[0]}", b[1])
    table = compare_table(a, b)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    picture = plots.compare_curves([a, b], out / "compare_curves.png")
    (out / "compare.md").write_text(f"# {a[0]} vs {b[0]}\n\n{table}\n\n"
                                    f"![curves]({picture.name})\n")
    print(table)
    print(f"\nwrote {out / 'compare.md'} and {picture}")
    return 0


def cmd_check_config(args) -> int:
    from mapsage.training.config_check import check_file

    findings = check_file(args.config, distributed=args.distributed)
    for finding in findings:
        print(finding)
    errors = sum(f.severity == "error" for f in findings)
    print(f"{args.config}: {errors} error(s), {len(findings) - errors} warning(s)")
    return 1 if errors else 0


def cmd_check_data(args) -> int:
    from mapsage.data.check import check_layout
    from mapsage.data.layout import find_loveda

    scan = check_layout(find_loveda(args.data_root), check_all_masks=args.all_masks)
    for problem in scan.problems:
        print(f"  - {problem}")
    print(f"{args.data_root}: {len(scan.problems)} problem(s)")
    return 1 if scan.problems else 0


def cmd_provision(args) -> int:
    from mapsage.provision import mmcv as provision

    return provision.main(args.provision_args)


def cmd_build(args) -> int:
    from mapsage.kaggle.build import BUILD_DIR, build
    from mapsage.paths import KERNELS_DIR

    kernels = [Path(k) for k in args.kernel] or sorted(
        p for p in KERNELS_DIR.iterdir() if (p / "kernel.json").is_file())
    for kernel in kernels:
        target = build(kernel, owner=args.owner, out_dir=Path(args.out or BUILD_DIR))
        print(f"built {target}\n  push it with: mapsage push {target}   "
              f"(or: kaggle kernels push -p {target})")
    return 0


def cmd_push(args) -> int:
    from mapsage.kaggle.push import push

    out = push(Path(args.bundle), wait=not args.no_wait, poll_s=args.poll,
               download_to=Path(args.output) if args.output else None)
    if out is not None:
        for metrics in sorted(out.rglob("metrics.json")):
            from mapsage.results.report import one_line

            print(f"{metrics}: {one_line(json.loads(metrics.read_text()))}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mapsage", description=__doc__.split("\n\n")[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks for user errors")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="write the synthetic LoveDA-layout data set")
    p.add_argument("out", nargs="?", default="data/synthetic-loveda")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--train-per-domain", type=int, default=16)
    p.add_argument("--val-per-domain", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("run", help="execute the training notebook with papermill")
    p.add_argument("notebook", nargs="?", default=None)
    p.add_argument("-o", "--output", help="executed notebook (default: WORK_DIR/<name>.ipynb)")
    p.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("KEY", "VALUE"))
    p.add_argument("-r", "--parameter-raw", nargs=2, action="append", metavar=("KEY", "VALUE"),
                   help="a string parameter, not type-converted")
    p.add_argument("-f", "--parameters-file", action="append", metavar="YAML")
    p.add_argument("--cwd", help="working directory of the kernel")
    p.add_argument("--quiet", action="store_true", help="do not stream the notebook's output")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("notebook", help="generate notebooks from their sources, or check sync")
    p.add_argument("action", choices=["build", "check"])
    p.add_argument("sources", nargs="*", help="jupytext sources (default: mapsage/notebooks/*.py)")
    p.set_defaults(func=cmd_notebook)

    p = sub.add_parser("metrics", help="print a run's metrics.json as a table")
    p.add_argument("path", help="a work_dir or a metrics.json")
    p.set_defaults(func=cmd_metrics)

    p = sub.add_parser("check-config", help="check an mmengine config before training")
    p.add_argument("config")
    p.add_argument("--distributed", action="store_true", help="it will train on several GPUs")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("check-data", help="check a LoveDA tree (the check every run makes)")
    p.add_argument("data_root")
    p.add_argument("--all-masks", action="store_true",
                   help="decode every mask for the 0..7 value check (a training run decodes "
                        "an evenly spread sample of large folders)")
    p.set_defaults(func=cmd_check_data)

    p = sub.add_parser("compare", help="two runs side by side: per-class IoU change, curves")
    p.add_argument("run_a")
    p.add_argument("run_b")
    p.add_argument("--out", default="runs/compare", help="where compare.md and the PNG go")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("build", help="build pushable Kaggle notebooks from kaggle/*/kernel.json")
    p.add_argument("target", choices=["kaggle"])
    p.add_argument("--kernel", action="append", default=[], help="kernel folder (default: all)")
    p.add_argument("--owner", help="Kaggle user name (default: KAGGLE_USERNAME / kaggle.json)")
    p.add_argument("--out", help="output folder (default: build/kaggle)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("push", help="push a built kernel to Kaggle, wait, download its outputs")
    p.add_argument("bundle", help="a folder written by `mapsage build kaggle`")
    p.add_argument("--no-wait", action="store_true", help="return after the push")
    p.add_argument("--poll", type=float, default=30.0, help="seconds between status checks")
    p.add_argument("-o", "--output", help="where to download outputs (default: runs/kaggle/SLUG)")
    p.set_defaults(func=cmd_push)

    p = sub.add_parser("provision", help="install mmcv 2.1.0 with compiled ops (see --help)",
                       add_help=False)
    p.add_argument("provision_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_provision)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "notebook", "unset") is None:
        from mapsage.notebook.execute import DEFAULT_NOTEBOOK

        args.notebook = DEFAULT_NOTEBOOK
    try:
        return args.func(args)
    except MapSageError as exc:
        if args.debug:
            raise
        print(f"mapsage {args.command}: error: {exc}", file=sys.stderr)
        from mapsage.notebook.execute import NotebookFailed

        return 1 if isinstance(exc, NotebookFailed) else 2


if __name__ == "__main__":
    sys.exit(main())
