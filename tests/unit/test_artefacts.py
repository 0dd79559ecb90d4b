"""The names of what a run leaves (mapsage.artefacts) and the README's "What a run leaves" table
cannot drift apart: the table names each of them, and names nothing else but mmengine's
checkpoints and log folder."""

from __future__ import annotations

import re
from pathlib import Path

from mapsage import artefacts

README = Path(__file__).resolve().parents[2] / "README.md"
MMENGINE_OWN = {"best_mIoU_iter_N.pth", "iter_N.pth", "<timestamp>/"}  # checkpoint/names.py


def table() -> dict[str, str]:
    """First cell -> the rest of the row, for every row of the "What a run leaves" table."""
    section = README.read_text(encoding="utf-8").split("## What a run leaves", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert rows, "the README has no 'What a run leaves' table"
    return {cells[0]: cells[1] for cells in
            (line.strip("|").split("|", 1) for line in rows)}


def test_the_readme_table_names_every_artefact():
    rows = table()
    first_cells = " ".join(rows)
    for name in artefacts.ALL:
        assert f"`{name}`" in first_cells, f"README's 'What a run leaves' table lacks {name}"
    described = " ".join(rows.values())
    assert f"`{artefacts.executed_notebook(2)}`" in described  # the next free name
    assert f"`{artefacts.VIS_DATA}/{artefacts.SCALARS}`" in described  # in <timestamp>/


def test_the_readme_table_names_nothing_else():
    named = {name for cell in table() for name in re.findall(r"`([^`]+)`", cell)}
    unknown = named - set(artefacts.ALL) - MMENGINE_OWN
    assert not unknown, f"in the README's table but not in mapsage/artefacts.py: {unknown}"


def test_the_numbered_notebooks():
    assert artefacts.executed_notebook() == "train_segformer_loveda.ipynb"
    assert artefacts.executed_notebook(3) == "train_segformer_loveda.3.ipynb"
