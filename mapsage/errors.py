"""Every exception MapSage raises for users, under one base, each with its exit code.

The command lines print a :class:`MapSageError` as one clear paragraph without a traceback
(``--debug`` shows one) and exit with the exception's ``exit_code``: 2 for a problem in what the
user gave (a parameter, a path, a file, a checkpoint), 1 when a notebook, a training run or the
environment preflight failed. The notebook shows it as the failing cell's error.

Standard library only. The root, :class:`MapSageError`, and the preflight's errors live in
:mod:`envcheck.errors` (the bottom layer raises them without importing ``mapsage``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from envcheck.errors import (  # noqa: F401  (re-exported: the one hierarchy)
    RUN_FAILED,
    USER_ERROR,
    FirstChecksFailed,
    MapSageError,
    PreflightError,
)


class ParamError(MapSageError, ValueError):
    """A training parameter has an unknown name, a wrong type or a value out of range."""


class InputError(MapSageError):
    """The data set, work_dir or disk cannot serve the run (checked before training starts)."""


class WorkDirBusy(InputError):
    """Another training process holds the work_dir's lock."""


class UnusableCheckpoint(MapSageError):
    """A resume candidate that is damaged or holds what resume refuses; the next one is tried."""


class SecretFound(MapSageError):
    """A file that would be shipped to Kaggle holds a credential, or is not a plain file."""


class MetadataError(MapSageError):
    """kernel-metadata.json would be refused by ``kaggle kernels push``."""


class PatchError(MapSageError):
    """mmcv's setup.py does not look like the one the C++ standard patch was written for."""


class PushFailed(MapSageError):
    """Kaggle refused the push, or the pushed kernel failed or could not be followed."""


class NotebookFailed(MapSageError):
    """A notebook cell raised; the executed notebook (with the error) was still written."""

    exit_code = RUN_FAILED


class TrainingFailed(MapSageError):
    """The training process exited non-zero; the message carries its last lines."""

    exit_code = RUN_FAILED




def guarded(prog: str, func: Callable[[], int], *, debug: bool = False) -> int:
    """Run ``func``; turn a MapSageError into its message on stderr and its exit code. Every
    entry point uses it (``mapsage``, ``python -m mapsage.train``, ``python -m
    mapsage.provision``), so it lives with the errors, below every layer that raises them."""
    try:
        return func()
    except MapSageError as exc:
        if debug:
            raise
        print(f"{prog}: error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
