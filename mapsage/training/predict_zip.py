"""The LoveDA test server's submission: one zip of the label PNGs, flat (no folders), each
named as its image, written through :mod:`mapsage.safe_write` (never through a link)."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

from mapsage.safe_write import replacing

ZIP_NAME = "submission.zip"


def write_zip(path: Path, labels: Sequence[Path]) -> Path:
    """Zip ``labels`` (stored under their own names, at the archive's root) into ``path``."""
    with replacing(path) as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as archive:
        for label in labels:
            archive.write(label, arcname=label.name)
    return path
