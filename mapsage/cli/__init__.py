"""``mapsage <command>``: one module per command in this package, one error handler for all.

Each command module has ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``;
a command that is another program under a second name (``mapsage train`` is
``python -m mapsage.train``) has ``NAME``, ``HELP`` and ``FORWARDS_TO``, the module whose
``main(argv) -> int`` receives every argument, options first included.
A :class:`~mapsage.errors.MapSageError` prints as one paragraph on stderr, without a traceback
(``--debug`` shows it), and exits with the exception's ``exit_code`` (2: a problem in what the
user gave; 1: a notebook, training run or preflight that failed).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

from mapsage.errors import guarded

COMMANDS = ("synth", "run", "train", "predict", "notebook", "metrics", "compare", "check_config",
            "check_data", "doctor", "provision", "build", "push")


def build_parser() -> argparse.ArgumentParser:
    """The ``mapsage`` parser, one sub-command per module of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="mapsage", description="Train SegFormer on LoveDA the same way on a laptop, in CI "
                                    "and on Kaggle.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for user errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"mapsage.cli.{name}")
        target = getattr(module, "FORWARDS_TO", None)
        command = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP,
                                 add_help=target is None)  # the target's own --help answers
        if target is None:
            module.add_arguments(command)
            command.set_defaults(func=module.run)
        else:
            command.add_argument("forwarded", nargs=argparse.REMAINDER)
            command.set_defaults(func=_forward(target))
    return parser


def _forward(target: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        return importlib.import_module(target).main(args.forwarded)
    return run


def main(argv: list[str] | None = None) -> int:
    """``mapsage``: parse, run the command, return its exit code."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    forwarded = getattr(args, "forwarded", None)
    if unknown and forwarded is None:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if forwarded is not None:
        # argparse's REMAINDER does not take options that come first (mapsage train
        # --print-config model=b2): they are handed on too, in order
        args.forwarded = [*unknown, *forwarded]
    return guarded(f"mapsage {args.command}", lambda: args.func(args), debug=args.debug)
