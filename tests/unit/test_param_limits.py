"""Values the schema's types allow but training cannot run with are refused up front (exit 2)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mapsage.errors import ParamError
from mapsage.params import (
    WORKERS_PER_CPU,
    check_runnable_here,
    parse_assignments,
    usable_cpus,
    validate,
)


def test_max_iters_needs_room_for_the_schedule():
    with pytest.raises(ParamError, match="'max_iters' = 1: the learning-rate schedule needs at "
                                         "least 2 iterations"):
        validate({"max_iters": 1, "val_interval": 1})
    assert validate({"max_iters": 2, "val_interval": 1}).max_iters == 2


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "NaN"])
def test_lr_must_be_finite(text):
    values, _ = parse_assignments([f"lr={text}"])
    with pytest.raises(ParamError, match="'lr' = .* is not a finite number"):
        validate(values)


def test_seed_must_fit_numpy():
    with pytest.raises(ParamError, match="'seed' = 4294967296 is too large"):
        validate({"seed": 2**32})
    assert validate({"seed": 2**32 - 1}).seed == 2**32 - 1


def test_num_workers_beyond_the_machine_is_named():
    limit = WORKERS_PER_CPU * usable_cpus()
    check_runnable_here(validate({"num_workers": limit}))
    with pytest.raises(ParamError) as err:
        check_runnable_here(validate({"num_workers": limit + 1}))
    assert f"it has {usable_cpus()} usable CPU(s), so at most {limit}" in str(err.value)


@pytest.mark.parametrize("argument", ["max_iters=1", "lr=nan", "seed=4294967296",
                                      "num_workers=100000"])
def test_training_refuses_before_writing_anything(argument, tmp_path):
    work_dir = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "mapsage.train", f"work_dir={work_dir}", "val_interval=1",
         argument], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and argument.split("=")[0] in proc.stderr
    assert not work_dir.exists() and not (tmp_path / "data").exists()


@pytest.mark.parametrize(("name", "value", "words"), [
    ("work_dir", "runs/a\0b", "NUL byte"),
    ("work_dir", "runs/" + "x" * 300, "longest folder name has 300"),
    ("data_root", "/d/" * 1500, "system allows 4096"),
    ("load_from", "ckpt\0.pth", "NUL byte"),
])
def test_paths_the_system_cannot_look_up_are_refused_clearly(name, value, words):
    """Issue 20: a work_dir with a NUL byte or longer than the system allows was a traceback."""
    from mapsage.errors import ParamError
    from mapsage.params import validate

    with pytest.raises(ParamError, match=words) as err:
        validate({name: value})
    assert repr(name) in str(err.value)
