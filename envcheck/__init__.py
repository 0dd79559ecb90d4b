"""envcheck: a preflight for MapSage's training environment, in the spirit of ``flutter doctor``.

    python -m envcheck                # one line per check, then the remedies; exit 1 on errors
    python -m envcheck --json         # for machines
    python -m envcheck --profile kaggle

From Python (the training notebook's first code cell)::

    import envcheck
    envcheck.preflight()              # prints the report, raises PreflightError on errors

This package imports only the standard library, so it runs first in a bare Kaggle kernel. torch,
mmcv, mmengine and mmseg are imported in a subprocess with a timeout (``envcheck.probe``); the
version knowledge is a table (``envcheck.compat``), evaluated by ``envcheck.rules``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from envcheck.checks import check_lines
from envcheck.compat import TABLE_VERSION
from envcheck.errors import PreflightError  # the root of the one exception hierarchy
from envcheck.facts import Facts, gather_static
from envcheck.kaggle_paths import KAGGLE_INPUT
from envcheck.probe import DEFAULT_TIMEOUT_S, gather_probes
from envcheck.report import Finding, Remedy, Report, stream_supports
from envcheck.rules import PROFILES, evaluate

__all__ = ["Facts", "Finding", "PreflightError", "Remedy", "Report", "preflight", "run",
           "PROFILES", "TABLE_VERSION"]




def run(profile: str | None = None, facts: Facts | None = None, work_dir: str | Path = ".", *,
        lock: str | Path | None = None, timeout: float = DEFAULT_TIMEOUT_S,
        kaggle_input: str | Path = KAGGLE_INPUT) -> Report:
    """Gather facts (unless given), evaluate every rule, return the report.

    ``profile`` None detects the platform (Kaggle, CI, local). Given ``facts`` are evaluated as
    they are (nothing is gathered): that is how tests inject environments.
    """
    if profile is not None and profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, not {profile!r}")
    timings = {"static_s": 0.0, "probe_s": 0.0}
    if facts is None:
        started = time.perf_counter()
        facts = gather_static(work_dir, lock)
        probes_start = time.perf_counter()
        timings["static_s"] = round(probes_start - started, 4)
        gather_probes(facts, timeout=timeout, kaggle_input=kaggle_input,
                      scan_kaggle=(profile or facts.platform) == "kaggle")
        timings["probe_s"] = round(time.perf_counter() - probes_start, 4)
    profile = profile or facts.platform
    rules_start = time.perf_counter()
    findings = evaluate(facts, profile)
    checks = check_lines(facts, profile)
    timings["rules_s"] = round(time.perf_counter() - rules_start, 4)
    timings["total_s"] = round(sum(timings.values()), 4)
    return Report(profile, TABLE_VERSION, checks, findings, facts.to_dict(), timings)


def preflight(profile: str | None = None, work_dir: str | Path = ".", **kwargs) -> Report:
    """Run, print the report, and raise :class:`PreflightError` when it has errors."""
    report = run(profile, work_dir=work_dir, **kwargs)
    color, unicode = stream_supports(sys.stdout)
    print(report.to_text(color=color, unicode=unicode), flush=True)
    if report.errors:
        raise PreflightError(report)
    return report
