"""Dotted config options read as mmengine's --cfg-options reads them (or refused), and the
tracking parameter's vis backends (issue 21)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mapsage.errors import ParamError
from mapsage.models import config_for_model
from mapsage.params import validate
from mapsage.training.config import build_config, parse_options


def test_options_read_like_cfg_options():
    assert parse_options({"a.b": "[1,2]", "c.d": "x", "e.f": "(1,2)", "g.h": "None",
                          "i.j": "1e-4", "k.l": "True"}) == {
        "a.b": [1, 2], "c.d": "x", "e.f": (1, 2), "g.h": None, "i.j": 1e-4, "k.l": True}


@pytest.mark.parametrize("text", ["[dict(type='TensorboardVisBackend')]", "{'a': 1}", "[1,2"])
def test_options_mmengine_cannot_read_are_refused(text):
    with pytest.raises(ParamError, match="visualizer.vis_backends"):
        parse_options({"visualizer.vis_backends": text})


def test_config_syntax_option_is_refused_before_anything_runs(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "mapsage.train", f"work_dir={tmp_path / 'run'}",
         "visualizer.vis_backends=[dict(type='TensorboardVisBackend')]"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "dict(" in proc.stderr and "tracking" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "run").exists()


@pytest.mark.parametrize("tracking, backends", [
    ("tensorboard", ["LocalVisBackend", "TensorboardVisBackend"]),
    ("wandb", ["LocalVisBackend", "WandbVisBackend"]),
    ("none", ["LocalVisBackend"]),
])
def test_tracking_chooses_the_vis_backends(synthetic_root, tmp_path, tracking, backends):
    params = validate({"data_root": str(synthetic_root), "work_dir": str(tmp_path / "run"),
                       "tracking": tracking})
    assert params.tracking == tracking  # 'none' is the choice, not None
    cfg = build_config(config_for_model("tiny"), params)
    assert [b["type"] for b in cfg.visualizer.vis_backends] == backends


def test_tracking_default_and_refusal():
    assert validate({}).tracking == "tensorboard"
    with pytest.raises(ParamError, match="'tensorboard', 'wandb', 'none'"):
        validate({"tracking": "mlflow"})


@pytest.mark.skipif(__import__("importlib.util").util.find_spec("wandb") is not None,
                    reason="wandb is installed here")
def test_wandb_without_the_package_names_the_install(tmp_path):
    import os

    proc = subprocess.run(
        [sys.executable, "-m", "mapsage.train", f"work_dir={tmp_path / 'run'}", "tracking=wandb"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, "WANDB_API_KEY": "0" * 40})
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "pip install wandb" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()
