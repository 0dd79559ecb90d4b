"""``mapsage provision``: install mmcv 2.1.0 with compiled ops (same as
``python -m mapsage.provision``, which owns the arguments)."""

from __future__ import annotations

import argparse

NAME = "provision"
HELP = "install mmcv 2.1.0 with compiled ops (see --help)"
PARSER_OPTIONS = {"add_help": False}


def add_arguments(p) -> None:
    """Add this command\'s arguments to its parser ``p``."""
    p.add_argument("provision_args", nargs=argparse.REMAINDER)


def run(args) -> int:
    """Run the command with the parsed ``args``; return its exit code."""
    from mapsage.provision.mmcv import main

    return main(args.provision_args)
