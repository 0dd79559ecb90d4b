"""The scalars mmengine logs for a run (``<work_dir>/<timestamp>/vis_data/scalars.json``, one
folder per session): read, joined across sessions, split into training and validation rows.
The time budget, the results hook and continuation read a run's history through here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mapsage.artefacts import SCALARS, VIS_DATA


def read_scalars(path: str | Path) -> list[dict[str, Any]]:
    rows = []
    for line in Path(path).read_text().splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


def read_run_scalars(work_dir: str | Path) -> list[dict[str, Any]]:
    """Scalars of every session of a run, oldest first (a resumed run logs to a new folder).

    Where sessions overlap (a run killed after its last checkpoint repeats some iterations when
    resumed), the later session's rows replace the earlier ones from that iteration on.
    """
    rows: list[dict[str, Any]] = []
    for path in sorted(Path(work_dir).glob(f"*/{VIS_DATA}/{SCALARS}")):
        new = read_scalars(path)
        if new:
            first = min(int(r["step"]) for r in new)
            rows = [r for r in rows if int(r["step"]) < first] + new
    return rows


def split_scalars(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """(training rows with a loss, validation rows with mIoU)."""
    train = [r for r in rows if "loss" in r]
    val = [r for r in rows if "mIoU" in r]
    return train, val
