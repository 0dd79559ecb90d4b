"""Validation mistakes are found before training (issue 21): the model's test_cfg is checked with
the config (``mapsage check-config`` and every run), and one validation batch goes through the
real val pipeline, model and evaluator before the first iteration
(:mod:`mapsage.training.hooks.validation_probe`). Here the config check; training and the probe
in mmengine's Runner are tests/e2e/test_validation_probe.py."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
from mmengine.config import Config

from mapsage.models import MODEL_CONFIGS, config_for_model
from mapsage.paths import CONFIG_DIR
from mapsage.training.config_check import check_config, check_test_cfg


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
