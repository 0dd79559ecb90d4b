"""``mapsage push --until-finished``: the parts of a long run, one Kaggle session each.

The built kernel is pushed and followed like ``mapsage push`` (:func:`mapsage.kaggle.push.
push_session`), its outputs downloaded; the part's ``metrics.json`` (read with
:func:`mapsage.results.record.read_metrics`) says how it ended:

- ``"status": "finished"``: the run is done;
- ``"status": "time_limit"``: the next part is built the way this one was (its
  ``mapsage-build.json``: definition, the command line's parameters and sources, owner) with
  ``continue_from`` = this part's id (:mod:`mapsage.kaggle.next_part`: it attaches this
  part's output, not a new bootstrap), and pushed in turn.

The chain stops with a clear message, after showing the parts so far, when a part's session
fails, when a part leaves no readable metrics.json or another status, when a part made no
progress (the iteration count of the part before it), or after ``max_parts`` parts. It ends with
one table: each part's iterations, mIoU and the GPU hours its session took.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from envcheck.kaggle_paths import KAGGLE_WORKING
from mapsage import paths
from mapsage.artefacts import METRICS
from mapsage.errors import MapSageError, PushFailed
from mapsage.kaggle.build import BUILD_RECORD, build
from mapsage.kaggle.definition import definition_path
from mapsage.kaggle.push import push_session, read_json

DEFAULT_MAX_PARTS = 10
REBUILD = ("rebuild it with `mapsage build kaggle` (which writes that file) and run "
           "`mapsage push --until-finished` on the new folder")


@dataclass(frozen=True)
class Part:
    """One part of the chain as its downloaded metrics.json reports it."""

    number: int
    kernel: str
    status: str
    iterations: int
    max_iters: int | None
    miou: float | None
    gpu_hours: float
    output: Path


def read_record(bundle: Path) -> dict:
    """``bundle``'s mapsage-build.json (how it was built), its fields checked."""
    path = Path(bundle) / BUILD_RECORD
    if not path.is_file():
        raise MapSageError(f"{path} is missing, so the next part could not be built the way "
                           f"this one was: {REBUILD}.")
    record = read_json(path)
    expected = {"definition": (str,), "owner": (str,), "parameters": (dict,),
                "work_dir": (str,), "loveda_source": (str, type(None)),
                "data_source": (str, type(None)),
                "checkpoint_source": (str, type(None)), "continue_from": (str, type(None))}
    if isinstance(record, dict):
        record.setdefault("data_source", None)  # records written before data sources were generic
    wrong = [f"{key} = {record.get(key)!r}" for key, kinds in expected.items()
             if not isinstance(record, dict) or not isinstance(record.get(key), kinds)]
    if wrong:
        raise MapSageError(f"{path} is malformed ({'; '.join(wrong)}): {REBUILD}.")
    return record


def metrics_file(out: Path, work_dir: str) -> Path:
    """The downloaded metrics.json of the run's ``work_dir`` (``/kaggle/working/run`` is
    downloaded as ``out/run``), else the only metrics.json in ``out``."""
    working = PurePosixPath(KAGGLE_WORKING)
    if PurePosixPath(work_dir).is_relative_to(working):
        expected = Path(out, PurePosixPath(work_dir).relative_to(working), METRICS)
        if expected.is_file():
            return expected
    found = sorted(Path(out).rglob(METRICS))
    if len(found) == 1:
        return found[0]
    raise MapSageError(
        f"the downloaded output in {out} has {len(found) or 'no'} metrics.json "
        f"{'files' if found else 'file'} and none at {work_dir}'s place: the part did not "
        "finish its run (see the executed notebook there). The chain stopped.")


def read_part(number: int, kernel: str, out: Path, seconds: float, work_dir: str) -> Part:
    """The :class:`Part` a downloaded output reports (a failed run's record stops the chain)."""
    from mapsage.results.record import read_metrics

    _, metrics = read_metrics(metrics_file(out, work_dir))
    return Part(number=number, kernel=kernel, status=str(metrics.get("status")),
                iterations=metrics["iterations"], max_iters=_max_iters(metrics),
                miou=metrics.get("mIoU"), gpu_hours=seconds / 3600, output=out)


def _max_iters(metrics: dict) -> int | None:
    """The run's ``max_iters``: from the time_limit record, else the parameters (None: the
    model config's, not recorded)."""
    for record in (metrics.get("time_limit"), metrics.get("params"), metrics):
        value = record.get("max_iters") if isinstance(record, dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def table(parts: list[Part]) -> str:
    """The parts as a text table, with the total GPU hours."""
    rows = [("part", "kernel", "status", "iterations", "mIoU", "GPU hours")]
    for p in parts:
        done = f"{p.iterations}" + (f"/{p.max_iters}" if p.max_iters else "")
        rows.append((str(p.number), p.kernel, p.status, done,
                     "-" if p.miou is None else f"{p.miou:.2f}", f"{p.gpu_hours:.2f}"))
    rows.append(("total", "", "", "", "", f"{sum(p.gpu_hours for p in parts):.2f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def continue_command(record: dict, kernel: str) -> str:
    """The build command for the part after ``kernel`` (same parameters and sources)."""
    words = ["mapsage", "build", "kaggle", "--kernel", record["definition"], "--owner",
             record["owner"], "--continue-from", kernel]
    for key, value in record["parameters"].items():
        words += ["-p", key, "None" if value is None else str(value)]
    for option in ("loveda_source", "data_source", "checkpoint_source"):
        if record[option]:
            words += [f"--{option.replace('_', '-')}", record[option]]
    return shlex.join(words)


def _stop(parts: list[Part], message: str, log) -> PushFailed:
    if parts:
        log(table(parts))
    return PushFailed(message)


def until_finished(bundle: Path, api=None, *, max_parts: int = DEFAULT_MAX_PARTS,
                   poll_s: float = 30.0, timeout_s: float = 12 * 3600,
                   download_root: Path | None = None,
                   downloads: Path = paths.KAGGLE_DOWNLOADS, log=print) -> list[Part]:
    """Push ``bundle`` and, while a part ends with ``status: time_limit``, build and push the
    next, at most ``max_parts`` parts; each part's outputs go to ``download_root/<slug>``
    (default ``runs/kaggle/<slug>``). Returns the parts once the run has finished; every other
    end is a :class:`~mapsage.errors.PushFailed` naming the part, why, and what to do."""
    if max_parts < 1:
        raise MapSageError(f"--max-parts {max_parts} must be at least 1.")
    bundle = Path(bundle)
    if not bundle.is_dir():
        raise MapSageError(f"{bundle} is not a folder: pass the folder `mapsage build kaggle` "
                           "wrote (build/kaggle/<slug>).")
    record = read_record(bundle)  # before anything is pushed
    if api is None:
        from mapsage.kaggle.push import official_api

        api = official_api()
    parts: list[Part] = []
    while True:
        number = len(parts) + 1
        root = Path(download_root or downloads)
        try:
            session = push_session(bundle, api, poll_s=poll_s, timeout_s=timeout_s,
                                   download_to=root / bundle.name, log=log)
        except PushFailed as exc:
            raise _stop(parts, f"part {number} ({bundle}) did not finish, so the chain stopped: "
                               f"{exc}", log) from exc
        try:
            part = read_part(number, session.kernel, session.out, session.seconds,
                             record["work_dir"])
        except MapSageError as exc:
            raise _stop(parts, f"part {number} ({session.kernel}) left no usable result, so the "
                               f"chain stopped: {exc}", log) from exc
        parts.append(part)
        log(f"part {number} ({part.kernel}): {part.status} at iteration {part.iterations}"
            + (f" of {part.max_iters}" if part.max_iters else ""))
        if part.status == "finished":
            log(table(parts))
            return parts
        if part.status != "time_limit":
            raise _stop(parts, f"part {number} ({part.kernel}) ended with status "
                               f"{part.status!r}, neither 'finished' nor 'time_limit': the chain "
                               f"stopped. Its outputs are in {part.output}.", log)
        if len(parts) > 1 and part.iterations <= parts[-2].iterations:
            raise _stop(parts, f"part {number} ({part.kernel}) made no progress (iteration "
                               f"{part.iterations}, as the part before it): the chain stopped "
                               "instead of spending more GPU time. Its executed notebook in "
                               f"{part.output} shows why (a session too short to reach the next "
                               "checkpoint?).", log)
        if len(parts) >= max_parts:
            raise _stop(parts, f"stopped after {len(parts)} part(s) (--max-parts {max_parts}) "
                               f"at iteration {part.iterations}"
                               + (f" of {part.max_iters}" if part.max_iters else "")
                               + ". Continue with:\n  " + continue_command(record, part.kernel)
                               + "\n  mapsage push --until-finished build/kaggle/<the slug it "
                                 "prints>", log)
        bundle = build(definition_path(record["definition"]), owner=record["owner"],
                       out_dir=bundle.parent, parameters=record["parameters"],
                       continue_from=part.kernel, downloads=downloads, log=log,
                       loveda_source=record["loveda_source"],
                       data_source=record["data_source"],
                       checkpoint_source=record["checkpoint_source"])
        log(f"built part {number + 1}: {bundle}")
        record = read_record(bundle)
