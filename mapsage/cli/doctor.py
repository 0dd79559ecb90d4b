"""``mapsage doctor``: the envcheck report for this machine (same as ``envcheck`` /
``python -m envcheck``, which owns the arguments): Python, torch/CUDA, mmcv and its compiled ops,
mmengine, mmseg, pins, disk, Kaggle settings, each problem with its exact remedy."""

NAME = "doctor"
HELP = "check this environment and print the remedy for each problem (envcheck; see --help)"
FORWARDS_TO = "envcheck.__main__"
