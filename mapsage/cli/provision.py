"""``mapsage provision``: install mmcv 2.1.0 with compiled ops (same as
``python -m mapsage.provision``, which owns the arguments)."""

NAME = "provision"
HELP = "install mmcv 2.1.0 with compiled ops (see --help)"
FORWARDS_TO = "mapsage.provision.mmcv"
