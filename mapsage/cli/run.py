"""``mapsage run [NOTEBOOK] -p KEY VALUE ... -f FILE``: execute the training notebook with papermill.

Parameters are checked against the schema before a kernel starts; a failing cell exits 1 naming
the cell, and the executed notebook is still written: by default as a new file in the work_dir
(``train_segformer_loveda.ipynb``, then ``train_segformer_loveda.2.ipynb``, ...), never over an
earlier run's notebook.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mapsage.artefacts import METRICS
from mapsage.params import DEFAULTS

NAME = "run"
HELP = "execute the training notebook with papermill"


def collect_parameters(args) -> dict[str, Any]:
    """The parameters of ``-f`` files, ``-p`` and ``-r``, in that order of precedence (later
    wins). ``-p`` text is read by the parameter's type with the grammar every entry point shares
    (:func:`mapsage.params.coerce`: ``-p amp yes`` is ``amp=yes``); ``-r`` keeps a string."""
    from mapsage.notebook import execute
    from mapsage.params import cli_value

    parameters: dict[str, Any] = {}
    for path in args.parameters_file or []:
        parameters.update(execute.load_parameter_file(path))
    for key, value in args.parameter or []:
        parameters[key] = cli_value(key, value)
    for key, value in args.parameter_raw or []:
        parameters[key] = value
    return parameters


def add_arguments(p) -> None:
    """Add this command\'s arguments to its parser ``p``."""
    p.add_argument("notebook", nargs="?", default=None,
                   help="notebook to execute (default: the packaged training notebook)")
    p.add_argument("-o", "--output",
                   help="executed notebook (default: WORK_DIR/<name>.ipynb, or the next free "
                        "<name>.N.ipynb there: an earlier run's notebook is never replaced)")
    p.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("KEY", "VALUE"))
    p.add_argument("-r", "--parameter-raw", nargs=2, action="append", metavar=("KEY", "VALUE"),
                   help="a string parameter, not type-converted")
    p.add_argument("-f", "--parameters-file", action="append", metavar="YAML")
    p.add_argument("--cwd", help="working directory of the kernel")
    p.add_argument("--quiet", action="store_true", help="do not stream the notebook's output")


def run(args) -> int:
    """Run the command with the parsed ``args``; return its exit code."""
    from mapsage.notebook import execute
    from mapsage.results.record import read_metrics
    from mapsage.results.report import one_line

    parameters = collect_parameters(args)
    output = execute.execute(args.notebook or execute.DEFAULT_NOTEBOOK, args.output, parameters,
                             cwd=args.cwd, log_output=not args.quiet)
    # the parameters were validated once, in execute(); work_dir is a string parameter as given
    work_dir = parameters.get("work_dir", DEFAULTS["work_dir"])
    metrics_path = Path(str(work_dir)) / METRICS
    print(f"executed notebook: {output}")
    if metrics_path.is_file():
        print(f"metrics: {metrics_path}\n  {one_line(read_metrics(metrics_path)[1])}")
    return 0
