"""Validation mistakes are found before training (issue 21): a training run refuses them before
the runner or the first iteration, and the validation probe
(:mod:`mapsage.training.hooks.validation_probe`) runs one real batch in mmengine's Runner. Real
mmseg/mmengine, the tiny model, synthetic data (the config check alone is
tests/unit/training/test_validation_probe.py)."""

from __future__ import annotations

import json

import pytest

from mapsage.models import config_for_model

pytestmark = pytest.mark.slow

SLIDE_WITHOUT_STRIDE = ("model.test_cfg.mode=slide", "model.test_cfg.crop_size=(128,128)")


# --- training -------------------------------------------------------------------------------

def _never_trained(proc, work_dir):
    output = proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "Iter(train)" not in output, "a training iteration ran"
    assert not list(work_dir.glob("*.pth")) if work_dir.exists() else True


def test_training_refuses_slide_without_stride_before_the_runner(tiny_training, tmp_path):
    work_dir = tmp_path / "run"
    proc = tiny_training(work_dir, *SLIDE_WITHOUT_STRIDE)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    _never_trained(proc, work_dir)
    assert "model.test_cfg.mode = 'slide' needs stride" in proc.stderr
    assert "object has no attribute" not in proc.stderr  # mmseg's own failure


def test_a_val_transform_that_fails_on_the_data_fails_before_the_first_iteration(tiny_training,
                                                                                 tmp_path):
    """A misspelt color_type passes every config check (it is a plain string) and fails only
    when LoadImageFromFile decodes a val image: before the first iteration now, not at the
    first validation."""
    work_dir = tmp_path / "run"
    proc = tiny_training(work_dir, "val_dataloader.dataset.datasets.0.pipeline.0.color_type=colr")
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    _never_trained(proc, work_dir)
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("mapsage.train: error:")]
    assert "The validation cannot run" in line
    assert "loading it through val_dataloader's data set pipeline" in line
    assert "raised KeyError: 'colr' (in the transform 'LoadImageFromFile'" in line
    assert "Val/Urban/images_png/" in line  # the image it failed on
    assert "first validation (iteration 2)" in line and "Fix val_dataloader" in line
    metrics = json.loads((work_dir / "metrics.json").read_text())
    assert metrics["status"] == "failed" and metrics["iterations"] == 0
    assert "raised KeyError: 'colr'" in metrics["error"]


def test_a_val_pipeline_without_annotations_fails_in_the_evaluator_before_training(tiny_training,
                                                                                   tmp_path):
    work_dir = tmp_path / "run"
    # LoadAnnotations replaced: the predictions have no ground truth to be scored against
    proc = tiny_training(work_dir, "val_dataloader.dataset.datasets.0.pipeline.2.type="
                                   "LoadImageFromFile")
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    _never_trained(proc, work_dir)
    assert "the evaluator on that prediction (val_evaluator" in proc.stderr
    assert "gt_sem_seg" in proc.stderr


# --- the hook in mmengine's Runner, in this process -------------------------------------------

@pytest.fixture()
def runner(tiny_training, tmp_path):
    from mmengine.runner import Runner

    import mapsage.results.hook
    import mapsage.training.plugins  # noqa: F401  (what the config's custom_imports loads)
    from mapsage.params import parse_assignments, validate
    from mapsage.training.config import build_config

    values, _ = parse_assignments(tiny_training.cmd(tmp_path / "run")[3:])
    cfg = build_config(config_for_model("tiny"), validate(values))
    cfg.val_dataloader.batch_size = 2
    return Runner.from_cfg(cfg)


def _probe_hook(runner):
    from mapsage.training.hooks.validation_probe import ValidationProbeHook

    (hook,) = [h for h in runner.hooks if isinstance(h, ValidationProbeHook)]
    return hook


def test_the_probe_runs_one_batch_and_leaves_no_trace(runner):
    import random
    from pathlib import Path

    import numpy as np
    import torch

    runner.model.train()
    before = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    _probe_hook(runner).before_train(runner)
    assert torch.equal(torch.get_rng_state(), before[0])
    assert (np.random.get_state()[1] == before[1]).all() and random.getstate() == before[2]
    assert runner.model.training, "the model is back in training mode"
    assert "confusion_matrix" not in runner.message_hub.runtime_info  # the report's is real
    assert runner.iter == 0
    (log,) = Path(runner.log_dir).glob("*.log")
    assert "validation probe passed: one batch of 2 validation image(s)" in log.read_text()


def test_a_test_cfg_set_past_the_config_check_fails_in_the_probe(runner):
    """mmseg asserts that the sliding windows cover every pixel: 32-pixel windows every 64
    pixels of a 128-pixel tile leave gaps (set on the built model, where no config check sees
    it); the probe fails, with status failed in metrics.json."""
    from pathlib import Path

    from mapsage.training.hooks.validation_probe import ValidationProbeFailed

    runner.model.test_cfg = type(runner.model.test_cfg)(mode="slide", crop_size=(32, 32),
                                                        stride=(64, 64))
    with pytest.raises(ValidationProbeFailed) as raised:
        _probe_hook(runner).before_train(runner)
    message = str(raised.value)
    assert "the model's prediction on it (model.val_step" in message
    assert "raised AssertionError (no message)" in message and "in slide_inference" in message
    assert "Fix model.test_cfg" in message and "\n" not in message
    metrics = json.loads((Path(runner.work_dir) / "metrics.json").read_text())
    assert metrics["status"] == "failed" and metrics["error"] == message
