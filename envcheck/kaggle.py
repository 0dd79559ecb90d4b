"""Kaggle-only facts: attached input data sets (LoveDA? checkpoints? an mmcv wheelhouse?) and
whether the internet is reachable. Standard library only.

The network is touched only by :func:`internet_reachable`, which envcheck calls only when the
platform is Kaggle (CI and laptops are never probed).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from envcheck.facts import InputDataset

SPLITS = ("Train", "Val")
DOMAINS = ("Urban", "Rural")
_MAX_DEPTH = 4
_MAX_DIRS = 2000  # per data set: attached inputs can be large; the scan must stay fast
_SKIP = {"images_png", "masks_png", "__pycache__"}


def internet_reachable(host: str = "pypi.org", port: int = 443,
                       timeout: float = 1.5) -> tuple[bool, str]:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True, f"connected to {host}:{port}"
    except OSError as exc:
        return False, f"cannot connect to {host}:{port} ({type(exc).__name__}: {exc})"


def loveda_splits(folder: Path) -> dict[str, Path]:
    """split -> folder holding {Urban,Rural}/images_png, also for a doubled ``Train/Train``."""
    found = {}
    for split in SPLITS:
        for candidate in (folder / split, folder / split / split):
            if any((candidate / d / "images_png").is_dir() for d in DOMAINS):
                found[split] = candidate
                break
    return found


def _scan(dataset: Path) -> InputDataset | None:
    kinds: list[str] = []
    notes: list[str] = []
    loveda_root = None
    checkpoints: list[str] = []
    wheels: list[str] = []
    queue = [(dataset, 0)]
    seen = 0
    while queue and seen < _MAX_DIRS:
        here, depth = queue.pop(0)
        seen += 1
        if loveda_root is None:
            splits = loveda_splits(here)
            if splits:
                loveda_root = str(here)
                missing = [s for s in SPLITS if s not in splits]
                notes.append(f"LoveDA at {here}" + (f" (no {', '.join(missing)} split)"
                                                     if missing else ""))
        try:
            entries = list(os.scandir(here))
        except OSError as exc:
            notes.append(f"cannot list {here}: {exc.strerror}")
            continue
        for entry in entries:
            if entry.is_dir() and depth < _MAX_DEPTH and entry.name not in _SKIP \
                    and not entry.name.startswith("."):
                queue.append((Path(entry.path), depth + 1))
            elif entry.name.endswith(".pth"):
                checkpoints.append(os.path.relpath(entry.path, dataset))
            elif entry.name.startswith("mmcv-") and entry.name.endswith(".whl"):
                wheels.append(os.path.relpath(entry.path, dataset))
    if loveda_root:
        kinds.append("loveda")
    if checkpoints:
        kinds.append("checkpoint")
        shown = ", ".join(sorted(checkpoints)[:3]) + (" ..." if len(checkpoints) > 3 else "")
        notes.append(f"{len(checkpoints)} checkpoint(s): {shown}")
    if wheels:
        kinds.append("mmcv-wheel")
        notes.append(f"mmcv wheel(s): {', '.join(sorted(wheels)[:3])}")
    if not kinds:
        return None
    return InputDataset(str(dataset), kinds, "; ".join(notes), loveda_root)


def _datasets(root: Path) -> list[Path]:
    """Top-level folders of the input root; also ``datasets/<owner>/<slug>`` and
    ``competitions/<slug>`` layouts of newer Kaggle mounts."""
    out = []
    try:
        tops = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError:
        return out
    for top in tops:
        if top.name == "datasets":
            for owner in sorted(p for p in top.iterdir() if p.is_dir()):
                out += sorted(p for p in owner.iterdir() if p.is_dir())
        elif top.name == "competitions":
            out += sorted(p for p in top.iterdir() if p.is_dir())
        else:
            out.append(top)
    return out


def scan_inputs(root: str | Path = "/kaggle/input") -> list[InputDataset]:
    """Attached inputs under ``root`` that hold LoveDA, ``.pth`` checkpoints or mmcv wheels."""
    found = []
    for dataset in _datasets(Path(root)):
        hit = _scan(dataset)
        if hit is not None:
            found.append(hit)
    return found
