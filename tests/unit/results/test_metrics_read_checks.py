"""read_metrics refuses, in one paragraph, what would otherwise crash a reader later or be
read as something it is not: missing per-class fields, JSON booleans as numbers, nesting
deeper than Python can parse, and the record of a failed run."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from mapsage.errors import MapSageError
from mapsage.results.record import read_metrics

GOOD = {
    "mIoU": 40.0, "aAcc": 70.0, "mAcc": 50.0, "iterations": 20, "wall_time_s": 3.5,
    "per_class_IoU": {"road": 40.0, "water": None},
    "final": {"iteration": 20, "per_class": {"road": {"IoU": 40.0, "Acc": 50.0},
                                             "water": {"IoU": None, "Acc": None}}},
    "best": {"iteration": 20, "mIoU": 40.0, "checkpoint": None},
    "history": {"train": [{"iteration": 10, "loss": 1.0, "lr": 0.1}],
                "val": [{"iteration": 20, "mIoU": 40.0}]},
    "environment": {"device": "cpu"},
}


def _variant(change):
    data = copy.deepcopy(GOOD)
    change(data)
    return data


BAD = {
    "no-acc": (_variant(lambda d: d["final"]["per_class"]["road"].pop("Acc")),
               "final.per_class.road is {'IoU': 40.0}, expected {IoU: number or null, Acc: "
               "number or null}"),
    "empty-class": (_variant(lambda d: d["final"]["per_class"].update(water={})),
                    "final.per_class.water is {}"),
    "per-class-iou-short": (_variant(lambda d: d["per_class_IoU"].pop("water")),
                            "missing: water"),
    "best-iteration-true": (_variant(lambda d: d["best"].update(iteration=True)),
                            "best.iteration is True, expected an iteration number"),
    "iterations-true": (_variant(lambda d: d.update(iterations=True)),
                        "iterations is True, expected a whole number"),
    "miou-true": (_variant(lambda d: d.update(mIoU=True)), "mIoU is True, expected a number"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_read_metrics_names_the_field(tmp_path, name):
    data, message = BAD[name]
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(data))
    with pytest.raises(MapSageError) as err:
        read_metrics(path)
    assert message in str(err.value) and repr(str(path)) in str(err.value)


def test_the_good_file_reads(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps(GOOD))
    _, metrics = read_metrics(tmp_path)
    assert metrics["final"]["per_class"]["water"]["IoU"] is None


def test_nesting_deeper_than_python_can_parse_is_a_clear_error(tmp_path):
    path = tmp_path / "metrics.json"
    depth = 100_000
    path.write_text('{"environment": ' + "[" * depth + "]" * depth + "}")
    with pytest.raises(MapSageError, match="is nested too deeply to be read"):
        read_metrics(path)


def test_a_failed_runs_record_is_named_as_such(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"status": "failed", "iterations": 7,
                                "error": "training failed at iteration 7 of 10: the loss is not a "
                                         "number (loss = nan)"}))
    with pytest.raises(MapSageError, match=r"records a run that failed at iteration 7: "
                                           r"'training failed at iteration 7"):
        read_metrics(path)


@pytest.mark.parametrize("name", ["no-acc", "best-iteration-true"])
def test_mapsage_metrics_exits_2_without_a_traceback(tmp_path, name):
    data, message = BAD[name]
    (tmp_path / "metrics.json").write_text(json.dumps(data))
    proc = subprocess.run([sys.executable, "-m", "mapsage", "metrics", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and message in proc.stderr
