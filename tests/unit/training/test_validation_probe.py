"""Validation mistakes are found before training (issue 21): the model's test_cfg is checked with
the config (``mapsage check-config`` and every run), and one validation batch goes through the
real val pipeline, model and evaluator before the first iteration
(:mod:`mapsage.training.hooks.validation_probe`). Real mmseg/mmengine, the tiny model, synthetic data."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
from mmengine.config import Config

from mapsage.models import MODEL_CONFIGS, config_for_model
from mapsage.paths import CONFIG_DIR
from mapsage.training.config_check import check_config, check_test_cfg

SLIDE_WITHOUT_STRIDE = ("model.test_cfg.mode=slide", "model.test_cfg.crop_size=(128,128)")


def _tiny() -> Config:
    return Config.fromfile(str(CONFIG_DIR / MODEL_CONFIGS["tiny"]))


def _with_test_cfg(test_cfg) -> Config:
    cfg = _tiny()
    cfg.model.test_cfg = copy.deepcopy(test_cfg)
    return cfg


# --- the config check -----------------------------------------------------------------------

def test_slide_without_stride_is_an_error_naming_the_key_the_value_and_the_fix():
    (finding,) = check_config(_with_test_cfg(dict(mode="slide", crop_size=(128, 128))))
    assert finding.severity == "error" and finding.where == "model.test_cfg"
    assert "model.test_cfg.mode = 'slide' needs stride" in finding.message
    assert "AttributeError: no attribute 'stride'" in finding.message
    assert "stride=(85, 85) for crop_size=(128, 128)" in finding.message  # mmseg's 2/3 step
    assert "mode='whole'" in finding.message
    assert "\n" not in finding.message


@pytest.mark.parametrize("test_cfg, where, says", [
    (dict(mode="slide"), "model.test_cfg", "needs crop_size"),
    (dict(mode="slide", crop_size=(128, 128), stride=(200, 64)), "model.test_cfg.stride",
     "stride = (200, 64) is larger than crop_size = (128, 128)"),
    (dict(mode="slide", crop_size=128, stride=(64, 64)), "model.test_cfg.crop_size",
     "crop_size = 128: mode='slide' needs the (height, width) of each window as a pair"),
    (dict(mode="slide", crop_size=(128, 128), stride=(0, 64)), "model.test_cfg.stride",
     "stride = (0, 64): mode='slide' needs"),
    (dict(mode="slide", crop_size=(128, 128), stride=(64.0, 64)), "model.test_cfg.stride",
     "pair of positive integers"),
    (dict(mode="slid"), "model.test_cfg.mode", "'slid': expected 'whole' or 'slide'"),
    (dict(), "model.test_cfg", "has no 'mode'"),
    (None, "model.test_cfg", "model.test_cfg = None: expected a dict"),
])
def test_test_cfgs_mmseg_cannot_apply_are_errors(test_cfg, where, says):
    findings = check_test_cfg(_with_test_cfg(test_cfg))
    assert findings and {f.severity for f in findings} == {"error"}
    assert any(f.where == where and says in f.message for f in findings), findings


@pytest.mark.parametrize("test_cfg", [
    dict(mode="whole"),
    dict(mode="slide", crop_size=(128, 128), stride=(85, 85)),
    dict(mode="slide", crop_size=[512, 512], stride=[512, 512]),
])
def test_test_cfgs_mmseg_applies_pass(test_cfg):
    assert check_test_cfg(_with_test_cfg(test_cfg)) == []


def test_only_encoder_decoders_are_held_to_its_rules():
    cfg = _with_test_cfg(dict(mode="slide"))
    cfg.model.type = "CascadeEncoderDecoder"  # a subclass: same inference
    assert len(check_test_cfg(cfg)) == 2
    cfg.model.type = "SegTTAModel"  # no test_cfg of its own
    assert check_test_cfg(cfg) == []


def _slide_config(tmp_path):
    config = tmp_path / "slide.py"
    config.write_text(f"_base_ = [{str(config_for_model('tiny'))!r}]\n"
                      "model = dict(test_cfg=dict(mode='slide', crop_size=(128, 128)))\n")
    return config


def test_check_config_refuses_slide_without_stride(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mapsage", "check-config",
                           str(_slide_config(tmp_path))],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "1 error(s), 0 warning(s)" in proc.stdout
    assert "[error] model.test_cfg: model.test_cfg.mode = 'slide' needs stride" in proc.stdout


# --- training -------------------------------------------------------------------------------

def _never_trained(proc, work_dir):
    output = proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "Iter(train)" not in output, "a training iteration ran"
    assert not list(work_dir.glob("*.pth")) if work_dir.exists() else True


@pytest.mark.slow
def test_training_refuses_slide_without_stride_before_the_runner(tiny_training, tmp_path):
    work_dir = tmp_path / "run"
    proc = tiny_training(work_dir, *SLIDE_WITHOUT_STRIDE)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    _never_trained(proc, work_dir)
    assert "model.test_cfg.mode = 'slide' needs stride" in proc.stderr
    assert "object has no attribute" not in proc.stderr  # mmseg's own failure


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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
