"""Every exception MapSage raises for users, under one base, each with its exit code.

The command lines print a :class:`MapSageError` as one clear paragraph without a traceback
(``--debug`` shows one) and exit with the exception's ``exit_code``: 2 for a problem in what the
user gave (a parameter, a path, a file, a checkpoint), 1 when a notebook, a training run or the
environment preflight failed. The notebook shows it as the failing cell's error.

Standard library only: ``envcheck`` (stdlib-only by design) raises :class:`PreflightError`.
"""

from __future__ import annotations

USER_ERROR = 2
RUN_FAILED = 1


class MapSageError(Exception):
    """A user-fixable problem. The message names the value or path, what was expected and the fix."""

    exit_code = USER_ERROR


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


class PreflightError(MapSageError, RuntimeError):
    """envcheck found errors in the environment; the message lists them with their remedies."""

    exit_code = RUN_FAILED

    def __init__(self, report):
        super().__init__(report.errors_text())
        self.report = report


class FirstChecksFailed(MapSageError, RuntimeError):
    """A Kaggle notebook's first, seconds-long checks found what no GPU time can fix (LoveDA not
    attached, no GPU for a CUDA run, no disk room); the message names each problem."""

    exit_code = RUN_FAILED
