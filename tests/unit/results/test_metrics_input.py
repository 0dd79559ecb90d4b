"""`mapsage metrics` and `mapsage compare` on files that are not a run's metrics.json: a clear
error naming the field, exit 2, no traceback, nothing written."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

GOOD = {
    "mIoU": 40.0, "aAcc": 70.0, "mAcc": 50.0, "iterations": 20, "wall_time_s": 3.5,
    "per_class_IoU": {"road": 40.0},
    "final": {"iteration": 20, "per_class": {"road": {"IoU": 40.0, "Acc": 50.0}}},
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
    "no-history": (_variant(lambda d: d.pop("history")), "history is None"),
    "history-rows": (_variant(lambda d: d["history"].update(train=3)), "history.train is 3"),
    "val-row": (_variant(lambda d: d["history"]["val"].append({"iteration": "x"})),
                "history.val[1] is {'iteration': 'x'}"),
    "best-empty": (_variant(lambda d: d.update(best={})), "best.iteration is None"),
    "best-text": (_variant(lambda d: d["best"].update(mIoU="high")), "best.mIoU is 'high'"),
    "environment": (_variant(lambda d: d.update(environment="cpu")), "environment is 'cpu'"),
    "a-list": ([1, 2], "the top level is 'list'"),
}


def _mapsage(*args, cwd):
    return subprocess.run([sys.executable, "-m", "mapsage", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


@pytest.mark.parametrize("name", sorted(BAD))
def test_metrics_and_compare_refuse_a_malformed_file(tmp_path, name):
    data, message = BAD[name]
    bad = tmp_path / f"{name}.json"
    bad.write_text(json.dumps(data))
    good = tmp_path / "good.json"
    good.write_text(json.dumps(GOOD))
    for args in (["metrics", str(bad)], ["compare", str(good), str(bad), "--out", "cmp"]):
        proc = _mapsage(*args, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr[-2000:]
        assert "Traceback" not in proc.stderr and message in proc.stderr
    assert not (tmp_path / "cmp").exists()


def test_a_well_formed_file_still_prints(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(GOOD))
    proc = _mapsage("metrics", str(good), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "**mIoU 40.00**" in proc.stdout
