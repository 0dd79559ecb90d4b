"""A training process's multi-line error reaches the notebook's (and ``mapsage run``'s) summary
whole: the problems after "nothing was trained or overwritten:" are not cut off (issue 21)."""

from __future__ import annotations

import shutil

import pytest

from mapsage.errors import TrainingFailed
from mapsage.notebook.launch import run_training
from mapsage.params import validate


def test_data_problems_are_listed_in_the_failure(synthetic_root, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(synthetic_root, data)
    broken = sorted((data / "Train").glob("*/masks_png/*.png"))[0]
    broken.write_bytes(b"not a png")
    params = validate({"data_root": str(data), "work_dir": str(tmp_path / "run"),
                       "max_iters": 2, "num_workers": 0})
    with pytest.raises(TrainingFailed) as caught:
        run_training(params)
    message = str(caught.value)
    assert "nothing was trained or overwritten:" in message
    problems = message.split("nothing was trained or overwritten:", 1)[1]
    assert broken.name in problems, message
