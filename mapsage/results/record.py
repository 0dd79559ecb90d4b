"""Turn what mmengine logged during a run into ``metrics.json``.

mmengine's LocalVisBackend writes every logged scalar (losses per logging interval, validation
metrics per evaluation) to ``<log_dir>/vis_data/scalars.json``, one JSON object per line. This
module reads that file rather than recording the numbers a second time.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

from mapsage.artefacts import METRICS
from mapsage.errors import MapSageError
from mapsage.training.scalars import split_scalars

SUMMARY_KEYS = ("aAcc", "mIoU", "mAcc")
_NUMBER = (int, float)
PER_CLASS_KEYS = ("IoU", "Acc")


def _is_number(value: Any) -> bool:
    """int or float, not bool (JSON's true is not a score or an iteration)."""
    return isinstance(value, _NUMBER) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _expect(ok: bool, path: Path, where: str, expected: str, value: Any) -> None:
    if not ok:
        raise MapSageError(
            f"{str(path)!r} is not a MapSage metrics.json: {where} is {value!r}, expected "
            f"{expected}. Point at the work_dir of a finished run (or its metrics.json)."
        )


def _check_metrics(path: Path, data: Any) -> dict:
    """The fields the tables read, checked for type: a file is never trusted to be well-formed."""
    _expect(isinstance(data, dict), path, "the top level", "an object", type(data).__name__)
    if data.get("status") == "failed":
        raise MapSageError(
            f"{str(path)!r} records a run that failed at iteration {data.get('iterations')!r}: "
            f"{data.get('error')!r}. It has no results to show; fix the cause and train again "
            "(resume=auto continues from the last checkpoint saved before the failure)."
        )
    for key in SUMMARY_KEYS:
        value = data.get(key)
        _expect(value is None or _is_number(value), path, key, "a number", value)
    _expect(_is_count(data.get("iterations")), path, "iterations", "a whole number",
            data.get("iterations"))
    _expect(_is_number(data.get("wall_time_s")), path, "wall_time_s", "a number",
            data.get("wall_time_s"))
    best, final = data.get("best"), data.get("final")
    _expect(isinstance(best, dict), path, "best", "an object", best)
    _expect(best.get("mIoU") is None or _is_number(best.get("mIoU")), path, "best.mIoU",
            "a number", best.get("mIoU"))
    _expect(_is_count(best.get("iteration")), path, "best.iteration", "an iteration number",
            best.get("iteration"))
    for key in ("environment", "batch"):
        _expect(isinstance(data.get(key, {}), dict), path, key, "an object", data.get(key))
    history = data.get("history")
    _expect(isinstance(history, dict), path, "history", "an object with train and val", history)
    for part, value_key in (("train", "loss"), ("val", "mIoU")):
        rows = history.get(part)
        _expect(isinstance(rows, list), path, f"history.{part}", "a list", rows)
        for i, row in enumerate(rows):
            _expect(isinstance(row, dict) and _is_number(row.get("iteration"))
                    and (row.get(value_key) is None or _is_number(row.get(value_key))),
                    path, f"history.{part}[{i}]", f"{{iteration: number, {value_key}: number}}",
                    row)
    _expect(isinstance(final, dict) and isinstance(final.get("per_class"), dict), path,
            "final.per_class", "an object of classes", final)
    for cls, values in final["per_class"].items():
        # each field present: a class no image had is recorded as null, never left out
        _expect(isinstance(values, dict) and all(
            k in values and (values[k] is None or _is_number(values[k])) for k in PER_CLASS_KEYS),
            path, f"final.per_class.{cls}", "{IoU: number or null, Acc: number or null}", values)
    per_class = data.get("per_class_IoU")
    _expect(isinstance(per_class, dict) and all(
        v is None or _is_number(v) for v in per_class.values()), path,
        "per_class_IoU", "an object of numbers", per_class)
    missing = [cls for cls in final["per_class"] if cls not in per_class]
    _expect(not missing, path, "per_class_IoU", f"an entry for every class of final.per_class "
            f"(missing: {', '.join(map(str, missing[:5]))})", per_class)
    if "dataset" in data:
        _check_dataset(path, data["dataset"], list(final["per_class"]))
    return data


def _check_dataset(path: Path, dataset: Any, classes: list[str]) -> None:
    """``dataset`` (the description the run trained on, as its dataset.yaml keys) read back
    as strictly as a dataset.yaml, and naming the classes ``final.per_class`` scores, in
    order; a run from before data sets were described has none (LoveDA)."""
    from mapsage.data.dataset import parse

    _expect(isinstance(dataset, dict), path, "dataset", "an object (the data set's "
            "description: name, classes, palette, ...)", dataset)
    try:
        description = parse(dataset, f"{str(path)!r}: dataset")
    except MapSageError as exc:
        raise MapSageError(f"{exc} {str(path)!r} is not a MapSage metrics.json as written: "
                           "point at the work_dir of a finished run (or its metrics.json)."
                           ) from None
    _expect("name" in dataset, path, "dataset.name", "the data set's name", dataset.get("name"))
    _expect(list(description.classes) == classes, path, "dataset.classes",
            f"the classes final.per_class scores, in order ({', '.join(map(str, classes[:8]))}"
            f"{', ...' if len(classes) > 8 else ''})", list(description.classes))


def read_metrics(path: str | Path) -> tuple[str, dict]:
    """(run name, metrics) from a work_dir or a metrics.json, checked before anything reads it."""
    given = Path(path)
    file = given / METRICS if given.is_dir() else given
    if not file.is_file():
        raise MapSageError(f"{str(file)!r} does not exist: give a run's work_dir or its "
                           "metrics.json.")
    try:
        data = json.loads(file.read_text())
    except (UnicodeDecodeError, ValueError) as exc:
        raise MapSageError(f"{str(file)!r} is not valid JSON ({exc}): give a run's work_dir or "
                           "its metrics.json.") from None
    except RecursionError:
        raise MapSageError(f"{str(file)!r} is nested too deeply to be read (arrays or objects "
                           f"inside each other beyond Python's limit of "
                           f"{sys.getrecursionlimit()}); a MapSage metrics.json is a few levels "
                           "deep. Give a run's work_dir or its metrics.json.") from None
    name = file.parent.name if file.name == METRICS else file.stem
    return name, _check_metrics(file, data)


def _clean(value: Any) -> Any:
    """NaN (a class absent from prediction and truth) -> None; float32 noise -> 2 decimals."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 2)
    return value


def evaluation(row: dict, classes: list[str]) -> dict:
    per_class = {
        cls: {"IoU": _clean(row.get(f"IoU.{cls}")), "Acc": _clean(row.get(f"Acc.{cls}"))}
        for cls in classes
    }
    return {
        "iteration": int(row["step"]),
        **{k: _clean(row[k]) for k in SUMMARY_KEYS if k in row},
        "per_class": per_class,
    }


def build_metrics(rows: list[dict], classes: list[str], *, best_checkpoint: str | None,
                  **extra: Any) -> dict:
    train, val = split_scalars(rows)
    if not val:
        raise ValueError("the run logged no validation result (no mIoU in scalars.json)")
    final = evaluation(val[-1], classes)
    best_row = max(val, key=lambda r: r["mIoU"])  # first of equals: the checkpoint mmengine kept
    return {
        **{k: final.get(k) for k in SUMMARY_KEYS},
        "per_class_IoU": {c: v["IoU"] for c, v in final["per_class"].items()},
        "final": final,
        "best": {"iteration": int(best_row["step"]), "mIoU": _clean(best_row["mIoU"]),
                 "checkpoint": best_checkpoint},
        "history": {
            "train": [{"iteration": int(r["step"]), "loss": round(r["loss"], 5), "lr": r.get("lr")}
                      for r in train],
            "val": [{"iteration": int(r["step"]), **{k: _clean(r.get(k)) for k in SUMMARY_KEYS}}
                    for r in val],
        },
        "classes": list(classes),
        **extra,
    }


def write_json(path: str | Path, data: dict) -> Path:
    """Replace ``path`` with ``data`` as JSON, atomically and never through a symbolic link
    (:mod:`mapsage.safe_write`)."""
    from mapsage.safe_write import write_text

    return write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")
