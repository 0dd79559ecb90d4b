"""Execute the training notebook with papermill: ``mapsage run [NOTEBOOK] -p KEY VALUE ... -f FILE``.

The same papermill call runs locally, in CI and (as Kaggle does it) on Kaggle. Parameters are
checked against the schema before a kernel starts; a failing cell makes the command exit
non-zero, names the cell and its error, and the executed notebook is still written. Each run
writes a notebook of its own: an earlier run's executed notebook in the work_dir is never
replaced (:func:`output_for`).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import nbformat
import papermill
import yaml
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.exceptions import PapermillExecutionError

from mapsage.artefacts import TRAINING_NOTEBOOK
from mapsage.errors import MapSageError, NotebookFailed
from mapsage.params import validate
from mapsage.paths import NOTEBOOK_DIR
from mapsage.safe_write import claim_new, refuse_link, replacing
from mapsage.yaml_strict import safe_load_strict

DEFAULT_NOTEBOOK = NOTEBOOK_DIR / TRAINING_NOTEBOOK


def load_parameter_file(path: str | Path) -> dict[str, Any]:
    """The parameters in a YAML file (``mapsage run -f``): a mapping, or a clear error."""
    path = Path(path)
    if not path.is_file():
        raise MapSageError(f"Parameter file {str(path)!r} does not exist.")
    try:
        data = safe_load_strict(path.read_text(), f"Parameter file {str(path)!r}") or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        reason = getattr(exc, "problem", None) or type(exc).__name__
        raise MapSageError(
            f"Parameter file {str(path)!r} is not valid YAML{at}: {reason}. It must hold "
            "'name: value' lines, e.g. 'max_iters: 200'."
        ) from None
    if not isinstance(data, dict):
        raise MapSageError(
            f"Parameter file {str(path)!r} must hold a mapping of parameter: value, "
            f"got {type(data).__name__}."
        )
    bad = [key for key in data if not isinstance(key, str)]
    if bad:
        raise MapSageError(
            f"Parameter file {str(path)!r}: {bad[0]!r} is not a parameter name (names are "
            "words such as max_iters)."
        )
    return data


def failed_cell(output: Path) -> str:
    """'cell N: ErrorName: message' for the first cell of ``output`` that holds an error."""
    nb = json.loads(output.read_text())
    code_index = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        code_index += 1
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                first_line = cell["source"] if isinstance(cell["source"], str) else "".join(
                    cell["source"])
                first_line = first_line.strip().splitlines()[0] if first_line.strip() else ""
                return (f"code cell {code_index} ({first_line[:60]!r}) failed with "
                        f"{out['ename']}: {out['evalue']}")
    return "no cell holds an error output"


def output_for(notebook: Path, work_dir: str | Path, output: str | Path | None) -> Path:
    """Where the executed notebook goes. By default a new file in ``work_dir``: ``<name>.ipynb``,
    or when that name is taken (an earlier run's notebook, or anything else) ``<name>.2.ipynb``,
    ``<name>.3.ipynb``, ...; it is created here, exclusively, so a resumed, refused or failed run
    never replaces an earlier run's notebook and two runs never share one. A given ``output``
    is used as it is (replaced if it exists), unless it is a symbolic link: papermill would
    write through it."""
    if output is None:
        return claim_new(work_dir, notebook.stem, notebook.suffix)
    output = Path(output)
    refuse_link(output, "The executed notebook's path (--output)",
                "Choose another --output, or remove the link.")
    output.parent.mkdir(parents=True, exist_ok=True)
    return output


def execute(notebook: str | Path = DEFAULT_NOTEBOOK, output: str | Path | None = None,
            parameters: dict[str, Any] | None = None, cwd: str | Path | None = None,
            log_output: bool = True) -> Path:
    """Execute ``notebook`` with papermill into ``output`` (default: a new ``WORK_DIR/<name>.ipynb``,
    numbered ``<name>.N.ipynb`` when taken: :func:`output_for`).

    The parameters are checked before a kernel starts; a failing cell (or a dead kernel) raises
    :class:`~mapsage.errors.NotebookFailed` naming the cell, after the executed notebook, with
    the error in it, has been written. Returns the executed notebook's path.
    """
    # fail before a kernel starts; the notebook receives each value in its schema type
    params = validate(parameters or {})
    parameters = {name: params.values[name] for name in parameters or {}}
    notebook = Path(notebook)
    if not notebook.is_file():
        raise MapSageError(f"Notebook {str(notebook)!r} does not exist.")
    claimed = output is None
    output = output_for(notebook, params.work_dir, output)
    if log_output:
        _stream_papermill_log()
    try:
        papermill.execute_notebook(
            str(notebook), str(output), parameters=parameters, kernel_name="python3",
            language="python", log_output=log_output, progress_bar=False,
            cwd=str(cwd) if cwd else None,
        )
    except PapermillExecutionError as exc:
        raise NotebookFailed(
            f"{failed_cell(output)}\nThe executed notebook, with the error, is {output}"
        ) from exc
    except (DeadKernelError, CellTimeoutError) as exc:
        # papermill saved the notebook but, the kernel being gone, no error output in it
        where = record_interruption(output, exc)
        raise NotebookFailed(
            f"{where}\nThe executed notebook, with the error, is {output}"
        ) from exc
    except BaseException:
        if claimed and output.stat().st_size == 0:  # papermill never wrote it: no empty file left
            output.unlink()
        raise
    return output


def record_interruption(output: Path, exc: Exception) -> str:
    """Write the kernel's death (or a cell timeout) into the cell that was running; describe it."""
    if isinstance(exc, DeadKernelError):
        evalue = ("the Jupyter kernel died while this cell ran: it was killed (often: out of "
                  "memory) or crashed in native code. Free memory (smaller batch_size or model) "
                  "and run the notebook again; training resumes with resume=auto.")
    else:
        evalue = f"{exc}".strip() or "the cell ran longer than the execution timeout"
    nb = nbformat.read(output, as_version=4)
    started = [c for c in nb.cells if c.cell_type == "code"
               and c.metadata.get("papermill", {}).get("start_time")]
    if not started:
        return f"the kernel failed before any cell ran ({type(exc).__name__}: {evalue})"
    cell = started[-1]
    cell.outputs.append(nbformat.v4.new_output(
        "error", ename=type(exc).__name__, evalue=evalue, traceback=[]))
    cell.metadata.papermill.update(status="failed", exception=True)
    nb.metadata.setdefault("papermill", {})["exception"] = True
    with replacing(output, "w") as fh:
        nbformat.write(nb, fh)
    return failed_cell(output)


class _OutputFormatter(logging.Formatter):
    """papermill logs a cell's output text as one record, newline included; the handler adds
    its own, so without this every streamed line would be followed by an empty one."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text[:-1] if text.endswith("\n") else text


def _stream_papermill_log() -> None:
    """Show papermill's cell progress and the cells' output on stdout, as its own CLI does."""
    logger = logging.getLogger("papermill")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(_OutputFormatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False

