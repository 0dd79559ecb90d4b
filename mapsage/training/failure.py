"""Leave a failed run's record (``metrics.json`` with ``"status": "failed"``) from inside
training: the hook that writes results (``mapsage.results.hook.RunResultsHook``, a layer above
training, registered through the config's ``custom_imports``) is found among the runner's hooks
by what it can do, not imported."""

from __future__ import annotations


def record_failure(runner, message: str, *, iteration: int) -> bool:
    """Ask the run's results hook to record ``message`` (rank 0 only); False when it has none."""
    if runner.rank != 0:
        return False
    writers = [hook for hook in runner.hooks if callable(getattr(hook, "write_failure", None))]
    for hook in writers:
        hook.write_failure(runner, message, iteration=iteration)
    return bool(writers)
