"""Generate each ``.ipynb`` from its jupytext percent source, byte for byte the same every time.

The ``.py`` source (top-level ``notebooks/``) is the only hand-edited form; the ``.ipynb`` is
generated into the package (``mapsage/notebooks/``), which ships it. The generated notebook carries the ``python3``
kernelspec and language info that papermill and Kaggle need, and cell ids derived from the cell's
position and content, so regenerating an unchanged source gives an identical file (jupytext alone
gives new random ids). ``check`` compares the committed file with a fresh rendering: unlike
``jupytext --diff``, which exits 0 on a difference, it reports and fails.
"""

from __future__ import annotations

import difflib
import hashlib
from pathlib import Path

import jupytext
import nbformat

from mapsage.paths import NOTEBOOK_DIR, NOTEBOOK_SOURCES
from mapsage.safe_write import write_text

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python", "file_extension": ".py", "mimetype": "text/x-python"}


def sources(folder: Path = NOTEBOOK_SOURCES) -> list[Path]:
    """The jupytext notebook sources in ``folder`` (``.py`` files with a jupytext header)."""
    return sorted(p for p in folder.glob("*.py") if p.read_text().startswith("# ---\n# jupyter:"))


def target_for(source: Path) -> Path:
    """The ``.ipynb`` generated from ``source``: for a source in the project's ``notebooks/``,
    the package's notebook of the same name (jupytext's pairing across folders,
    ``mapsage/notebooks///ipynb,notebooks///py:percent``); for any other, the file next to it."""
    if Path(source).resolve().parent == NOTEBOOK_SOURCES.resolve():
        return NOTEBOOK_DIR / f"{Path(source).stem}.ipynb"
    return Path(source).with_suffix(".ipynb")


def render_notebook(source: Path) -> nbformat.NotebookNode:
    """The notebook of ``source``: kernelspec and language set, outputs empty, cell ids derived
    from position and content, so the same source always gives the same bytes."""
    nb = jupytext.read(source, fmt="py:percent")
    nb.nbformat, nb.nbformat_minor = 4, 5
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = dict(LANGUAGE_INFO)
    for index, cell in enumerate(nb.cells):
        digest = hashlib.sha1(f"{index}\0{cell.cell_type}\0{cell.source}".encode()).hexdigest()
        cell["id"] = f"c{index:02d}-{digest[:10]}"
        if cell.cell_type == "code":
            cell["execution_count"] = None
            cell["outputs"] = []
    nbformat.validate(nb)
    return nb


def render(source: Path) -> str:
    """The ``.ipynb`` text of ``source``, exactly as ``build`` writes it."""
    return nbformat.writes(render_notebook(source), version=4) + "\n"


def build(source: Path) -> Path:
    """Write the ``.ipynb`` of ``source`` into the package; return its path."""
    target = target_for(source)
    write_text(target, render(source))
    return target


def check(source: Path) -> list[str]:
    """Differences between the committed notebook and its source; empty when in sync."""
    target = target_for(source)
    if not target.is_file():
        return [f"{target} is missing: run `nox -s notebooks` (or `mapsage notebook build`)"]
    expected, actual = render(source), target.read_text()
    if expected == actual:
        return []
    diff = difflib.unified_diff(actual.splitlines(), expected.splitlines(),
                                str(target), f"{target} (regenerated from {source.name})",
                                lineterm="", n=1)
    return [f"{target} is out of sync with {source}: run `nox -s notebooks` and commit both.",
            *list(diff)[:40]]
