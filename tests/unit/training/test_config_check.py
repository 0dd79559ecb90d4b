"""The config preflight, on the original notebook's config and on deliberately broken ones."""

from __future__ import annotations

import subprocess
import sys

from mmengine.config import Config

from mapsage.models import MODEL_CONFIGS
from mapsage.paths import CONFIG_DIR
from mapsage.training.config_check import check_config, check_file


def test_original_notebook_config_flags_logginghook_and_reduce_zero_label(repo_root):
    findings = check_file(repo_root / "tests" / "fixtures" / "original_kaggle_config.py")
    text = "\n".join(map(str, findings))
    assert "'LoggingHook' is not a registered hook" in text and "Did you mean 'LoggerHook'" in text
    assert "needs reduce_zero_label=True" in text
    assert "SyncBN on a single device" in text
    assert {f.severity for f in findings if "reduce_zero_label" in f.message} == {"error"}


def test_project_configs_are_clean():
    for name in MODEL_CONFIGS.values():
        assert check_file(CONFIG_DIR / name) == [], name


def test_every_kind_of_misspelt_type_is_found():
    cfg = Config.fromfile(str(CONFIG_DIR / MODEL_CONFIGS["b0"]))
    cfg.model.backbone.type = "MixVisionTransformr"
    cfg.train_dataloader.dataset.datasets[0].pipeline[2].type = "RandomResise"
    cfg.optim_wrapper.optimizer.type = "AdamWW"
    cfg.param_scheduler[1].type = "PolyLRR"
    cfg.val_evaluator.type = "IoUMetrik"
    found = {f.where: f.message for f in check_config(cfg)}
    assert "Did you mean 'MixVisionTransformer'" in found["model.backbone"]
    assert "Did you mean 'RandomResize'" in found[
        "train_dataloader.dataset.datasets.0.pipeline.2"]
    assert "'AdamW'" in found["optim_wrapper.optimizer"]
    assert "'PolyLR'" in found["param_scheduler.1"]
    assert "'IoUMetric'" in found["val_evaluator"]


def test_reduce_zero_label_false_is_an_error_and_syncbn_is_fine_when_distributed():
    cfg = Config.fromfile(str(CONFIG_DIR / MODEL_CONFIGS["b0"]))
    cfg.val_dataloader.dataset.datasets[1].reduce_zero_label = False
    cfg.model.decode_head.norm_cfg.type = "SyncBN"
    findings = check_config(cfg, distributed=True)
    assert [f.where for f in findings] == ["val_dataloader.dataset.datasets.1"]
    assert "reduce_zero_label=False on LoveDA" in findings[0].message


def test_init_cfg_pixel_sampler_and_collate_resolve_in_their_own_registries():
    # mmseg's own SegFormer configs give the backbone init_cfg=dict(type='Pretrained', ...)
    cfg = Config.fromfile(str(CONFIG_DIR / MODEL_CONFIGS["b2"]))
    cfg.model.backbone.init_cfg = dict(type="Pretrained", checkpoint="mit_b2.pth")
    cfg.model.decode_head.init_cfg = [dict(type="Normal", std=0.01,
                                           override=dict(type="Normal", name="conv_seg"))]
    cfg.model.decode_head.sampler = dict(type="OHEMPixelSampler", thresh=0.7, min_kept=100000)
    cfg.train_dataloader.collate_fn = dict(type="default_collate")
    cfg.tta_model = dict(type="SegTTAModel")
    assert check_config(cfg) == []

    cfg.model.backbone.init_cfg.type = "Pretrainde"
    cfg.model.decode_head.init_cfg[0].override.type = "Normall"
    cfg.model.decode_head.sampler.type = "OHEMSampler"
    cfg.train_dataloader.collate_fn.type = "default_colate"
    cfg.tta_model.type = "SegTTA"
    found = {f.where: f.message for f in check_config(cfg)}
    assert "weight initialiser" in found["model.backbone.init_cfg"]
    assert "Did you mean 'Pretrained'" in found["model.backbone.init_cfg"]
    assert "'Normal'" in found["model.decode_head.init_cfg.0.override"]
    assert "Did you mean 'OHEMPixelSampler'" in found["model.decode_head.sampler"]
    assert "'default_collate'" in found["train_dataloader.collate_fn"]
    assert "Did you mean 'SegTTAModel'" in found["tta_model"]
    assert len(found) == 5


def test_training_with_the_original_config_is_refused_before_the_runner(repo_root, synthetic_root,
                                                                       tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "mapsage.train", "--config",
         str(repo_root / "tests/fixtures/original_kaggle_config.py"),
         f"data_root={synthetic_root}", f"work_dir={tmp_path / 'w'}", "num_workers=0"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "Did you mean 'LoggerHook'?" in proc.stderr
    # its data sets' missing reduce_zero_label is not the run's problem: MapSage swaps the data
    # set in with LoveDA's description (reduce_zero_label=True); check-config still names it
    assert "reduce_zero_label" not in proc.stderr
    assert not (tmp_path / "w").exists() or not any((tmp_path / "w").rglob("*.pth"))


def test_a_config_that_does_not_load_is_a_clear_error(tmp_path, synthetic_root):
    config = tmp_path / "mine.py"
    config.write_text("_base_ = ['./missing_base.py']\n")
    proc = subprocess.run(
        [sys.executable, "-m", "mapsage.train", "--config", str(config),
         f"data_root={synthetic_root}", f"work_dir={tmp_path / 'w'}"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert f"Config file {str(config)!r} cannot be loaded by mmengine" in proc.stderr
    assert "missing_base.py" in proc.stderr
