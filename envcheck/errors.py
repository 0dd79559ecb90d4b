"""The root of MapSage's one exception hierarchy, and the errors of the preflight layer.

They live here, in ``envcheck`` (the standard-library bottom layer), so that envcheck raises them
without importing ``mapsage``; :mod:`mapsage.errors` re-exports them with every other error.
"""

from __future__ import annotations

USER_ERROR = 2
RUN_FAILED = 1


class MapSageError(Exception):
    """A user-fixable problem. The message names the value or path, what was expected and the fix."""

    exit_code = USER_ERROR


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
