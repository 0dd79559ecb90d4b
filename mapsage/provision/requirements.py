"""What provisioning installs next to an image's own torch: the lock's pins of the OpenMMLab
stack above torch and mmseg's text dependencies (read with envcheck's one lock parser)."""

from __future__ import annotations

from pathlib import Path

from envcheck.lockfile import read_pins
from mapsage.paths import LOCK_FILE

# What a Kaggle image lacks. torch, numpy, opencv, matplotlib come with the image and are
# deliberately left alone.
KAGGLE_PACKAGES = ("mmengine", "mmsegmentation", "ftfy", "regex", "addict", "yapf", "termcolor",
                   "prettytable")


def kaggle_requirements(path: Path | None = None) -> list[str]:
    """``name==version`` for each of :data:`KAGGLE_PACKAGES`, as the lock pins it for this Python."""
    pins = read_pins(path or LOCK_FILE)
    return [f"{name}=={pins[name]}" for name in KAGGLE_PACKAGES if name in pins]
