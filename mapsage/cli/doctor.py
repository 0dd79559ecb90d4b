"""``mapsage doctor``: the envcheck report for this machine (same as ``envcheck`` /
``python -m envcheck``): Python, torch/CUDA, mmcv and its compiled ops, mmengine, mmseg, pins,
disk, Kaggle settings, each problem with its exact remedy."""

from __future__ import annotations

import argparse

NAME = "doctor"
HELP = "check this environment and print the remedy for each problem (envcheck)"
PARSER_OPTIONS = {"add_help": False}


def add_arguments(p) -> None:
    """Add this command\'s arguments to its parser ``p``."""
    p.add_argument("envcheck_args", nargs=argparse.REMAINDER)


def run(args) -> int:
    """Run the command with the parsed ``args``; return its exit code."""
    from envcheck.__main__ import main

    return main(args.envcheck_args)
