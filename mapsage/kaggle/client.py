"""The official Kaggle client MapSage builds and pushes with: kaggle 2.x.

``mapsage build kaggle`` checks kernel metadata with the client's own validators and ``mapsage
push`` talks to Kaggle through its API. The client 2.x needs Python >= 3.11, so the lock pins
kaggle 1.7.4.5 on Python 3.10, and 1.7 cannot serve: importing it authenticates (it fails
without credentials, so not even the offline build can run) and it lacks calls MapSage uses.
Training, notebooks and provisioning work on 3.10; the Kaggle commands say so clearly there.
"""

from __future__ import annotations

import sys
from importlib import metadata

from mapsage.errors import MapSageError

REQUIRED_MAJOR = 2


def require_client() -> None:
    """Refuse, as one paragraph, a Kaggle client older than 2.x (or none)."""
    try:
        version = metadata.version("kaggle")
    except metadata.PackageNotFoundError:
        version = None
    major = version.split(".")[0] if version else ""
    if major.isdigit() and int(major) >= REQUIRED_MAJOR:
        return
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    found = f"kaggle {version}" if version else "no kaggle package"
    raise MapSageError(
        f"mapsage build kaggle and mapsage push need the official Kaggle client {REQUIRED_MAJOR}.x; "
        f"this environment (Python {python}) has {found}. The client {REQUIRED_MAJOR}.x needs "
        "Python >= 3.11, which is why the lock pins kaggle 1.7 on Python 3.10. Run these two "
        "commands from a Python 3.11-3.13 environment (make demo sets one up with your default "
        "python3); training and notebooks work on 3.10.")
