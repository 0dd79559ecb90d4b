"""``mapsage train [--config FILE] key=value ...``: train without a notebook.

The same as ``python -m mapsage.train`` (see :mod:`mapsage.train`), which owns the arguments.
"""

NAME = "train"
HELP = "train without a notebook (same as python -m mapsage.train; see --help)"
FORWARDS_TO = "mapsage.train"
