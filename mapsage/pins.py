"""The project's exact pins, read from ``requirements-lock.txt`` (standard library only)."""

from __future__ import annotations

import re
from pathlib import Path

LOCK_NAME = "requirements-lock.txt"
# What a Kaggle image lacks: the OpenMMLab stack above torch, and mmseg's text dependencies.
# torch, numpy, opencv, matplotlib come with the image and are deliberately left alone.
KAGGLE_PACKAGES = ("mmengine", "mmsegmentation", "ftfy", "regex", "addict", "yapf", "termcolor",
                   "prettytable")
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;#]+)")


def lock_path() -> Path:
    from mapsage.paths import LOCK_FILE

    return LOCK_FILE


def read_pins(path: Path | None = None) -> dict[str, str]:
    pins = {}
    for line in (path or lock_path()).read_text().splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def kaggle_requirements(path: Path | None = None) -> list[str]:
    pins = read_pins(path)
    return [f"{name}=={pins[name]}" for name in KAGGLE_PACKAGES if name in pins]
