"""Where MapSage's files are: package data (configs, notebooks) and the project checkout.

Configs and the generated notebooks ship inside the package (``mapsage/configs``,
``mapsage/notebooks``), so an installed wheel trains outside a checkout; the notebooks' sources
(``notebooks/*.py``, jupytext) are the checkout's. Kaggle kernel definitions (``kaggle/``) and build
output (``build/``) belong to a checkout: they are user-editable project files, not package data.
Standard library only.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
CONFIG_DIR = PACKAGE_DIR / "configs"
NOTEBOOK_DIR = PACKAGE_DIR / "notebooks"
"""The generated notebooks (``.ipynb``), package data: what papermill and Kaggle run."""
PROJECT_ROOT = PACKAGE_DIR.parent
"""The checkout holding this package (meaningful only when running from a checkout)."""
NOTEBOOK_SOURCES = PROJECT_ROOT / "notebooks"
"""The notebooks' jupytext sources (the hand-edited form), in the checkout: ``mapsage notebook
build`` generates each into :data:`NOTEBOOK_DIR`."""
KERNELS_DIR = PROJECT_ROOT / "kaggle"
BUILD_DIR = PROJECT_ROOT / "build"
LOCK_FILE = PROJECT_ROOT / "requirements-lock.txt"
KAGGLE_DOWNLOADS = Path("runs") / "kaggle"
"""Where ``mapsage push`` downloads a kernel's outputs (``<this>/<slug>/``), relative to the
current folder; ``mapsage build kaggle`` reads the bootstrap's ``bootstrap.json`` there."""
