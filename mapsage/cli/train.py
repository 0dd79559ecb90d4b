"""``mapsage train [--config FILE] key=value ...``: train without a notebook.

The same as ``python -m mapsage.train`` (see :mod:`mapsage.train`), which owns the arguments.
"""

from __future__ import annotations

import argparse

NAME = "train"
HELP = "train without a notebook (same as python -m mapsage.train; see --help)"
PARSER_OPTIONS = {"add_help": False}


def add_arguments(p) -> None:
    """Add this command\'s arguments to its parser ``p``."""
    p.add_argument("train_args", nargs=argparse.REMAINDER)


def run(args) -> int:
    """Run the command with the parsed ``args``; return its exit code."""
    from mapsage.train import main

    return main(args.train_args)
