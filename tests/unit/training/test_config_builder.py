"""The assembled configs, loaded by mmengine for real and checked against the LoveDA recipe."""

import pytest
from mmengine.config import Config

from mapsage.errors import ParamError
from mapsage.models import MODEL_CONFIGS, config_for_model
from mapsage.params import MODELS, validate
from mapsage.paths import CONFIG_DIR
from mapsage.training.config import build_config


def _types(node, found=None):
    found = [] if found is None else found
    if isinstance(node, dict):
        if "type" in node:
            found.append(node["type"])
        for value in node.values():
            _types(value, found)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _types(value, found)
    return found


@pytest.mark.parametrize("model", MODELS)
def test_every_model_config_is_a_loadable_mmengine_config(model):
    cfg = Config.fromfile(str(config_for_model(model)))
    assert cfg.model.backbone.type == "MixVisionTransformer"
    assert cfg.model.decode_head.num_classes == 7
    assert cfg.default_hooks.logger.type == "LoggerHook"
    assert "LoggingHook" not in _types(cfg._cfg_dict.to_dict())
    channels = cfg.model.backbone.embed_dims * __import__("numpy").array(cfg.model.backbone.num_heads)
    assert list(channels) == list(cfg.model.decode_head.in_channels), "head matches encoder widths"


def test_b2_is_the_published_mit_b2():
    cfg = Config.fromfile(str(CONFIG_DIR / MODEL_CONFIGS["b2"]))
    assert cfg.model.backbone.embed_dims == 64
    assert cfg.model.backbone.num_layers == [3, 4, 6, 3]
    assert cfg.model.backbone.num_heads == [1, 2, 5, 8]


def test_recipe_file_reads_loveda_layout_with_reduce_zero_label_and_1024_test_resize():
    cfg = Config.fromfile(str(CONFIG_DIR / MODEL_CONFIGS["b2"]))
    train, val = cfg.train_dataloader.dataset, cfg.val_dataloader.dataset
    assert train.type == val.type == "ConcatDataset"
    assert [d.data_prefix.img_path for d in train.datasets] == [
        "Train/Urban/images_png", "Train/Rural/images_png"]
    assert [d.data_prefix.seg_map_path for d in val.datasets] == [
        "Val/Urban/masks_png", "Val/Rural/masks_png"]
    for dataset in [*train.datasets, *val.datasets]:
        assert dataset.reduce_zero_label is True
        loads = [t for t in dataset.pipeline if t.type == "LoadAnnotations"]
        # mmseg takes it from the dataset; a contradicting transform setting would be a bug
        assert loads and all(t.get("reduce_zero_label") in (None, True) for t in loads)
    resize = [t for t in val.datasets[0].pipeline if t.type == "Resize"]
    assert resize[0].scale == (1024, 1024)
    assert cfg.model.decode_head.norm_cfg.type == "BN"


def test_assembly_applies_parameters_and_found_domains(synthetic_root, tmp_path):
    params = validate({"data_root": str(synthetic_root), "work_dir": str(tmp_path / "w"),
                       "model": "b0", "max_iters": 200, "val_interval": 50,
                       "checkpoint_interval": 40, "batch_size": 3, "crop_size": 96, "lr": 0.01,
                       "num_workers": 0, "seed": 7})
    cfg = build_config(config_for_model("b0"), params)
    train = cfg.train_dataloader
    assert train.batch_size == 3 and train.num_workers == 0 and train.persistent_workers is False
    assert {d.data_root for d in train.dataset.datasets} == {str(synthetic_root)}
    crop = [t for t in train.dataset.datasets[0].pipeline if t.type == "RandomCrop"][0]
    assert crop.crop_size == (96, 96) and cfg.model.data_preprocessor.size == (96, 96)
    assert cfg.train_cfg.max_iters == 200 and cfg.train_cfg.val_interval == 50
    assert cfg.default_hooks.checkpoint.interval == 40
    assert cfg.default_hooks.checkpoint.save_best == "mIoU"
    warm, poly = cfg.param_scheduler
    assert warm.end == poly.begin == 20 and poly.end == 200
    assert cfg.optim_wrapper.optimizer.lr == 0.01
    assert cfg.randomness.seed == 7
    assert cfg.val_evaluator.type == "PerClassIoUMetric"
    assert cfg.test_dataloader.dataset.datasets[0].pipeline[1].scale == (1024, 1024)


def test_tiny_tests_at_its_own_tile_size(synthetic_root, tmp_path):
    params = validate({"data_root": str(synthetic_root), "work_dir": str(tmp_path)})
    cfg = build_config(config_for_model("tiny"), params)
    resize = [t for t in cfg.val_dataloader.dataset.datasets[0].pipeline if t.type == "Resize"]
    assert resize[0].scale == (128, 128)


@pytest.mark.parametrize(("device", "distributed", "norm", "backend"), [
    ("cpu", False, "BN", "gloo"),
    ("cpu", True, "BN", "gloo"),
    ("cuda", False, "BN", "nccl"),
    ("cuda", True, "SyncBN", "nccl"),
])
def test_syncbn_only_when_distributed_on_cuda(synthetic_root, tmp_path, device, distributed, norm,
                                              backend):
    params = validate({"data_root": str(synthetic_root), "work_dir": str(tmp_path)})
    cfg = build_config(config_for_model("tiny"), params, device=device, distributed=distributed)
    assert cfg.model.decode_head.norm_cfg.type == norm
    assert cfg.env_cfg.dist_cfg.backend == backend


def test_amp_is_refused_on_cpu_and_set_up_on_cuda(synthetic_root, tmp_path):
    params = validate({"data_root": str(synthetic_root), "work_dir": str(tmp_path), "amp": True})
    with pytest.raises(ParamError, match="amp=True needs a CUDA GPU"):
        build_config(config_for_model("tiny"), params, device="cpu")
    cfg = build_config(config_for_model("tiny"), params, device="cuda", amp_dtype="bfloat16")
    assert cfg.optim_wrapper.type == "AmpOptimWrapper" and cfg.optim_wrapper.dtype == "bfloat16"


def test_dotted_options_are_merged_like_cfg_options(synthetic_root, tmp_path):
    params = validate({"data_root": str(synthetic_root), "work_dir": str(tmp_path)})
    cfg = build_config(config_for_model("tiny"), params,
                       {"default_hooks.logger.interval": "3", "model.decode_head.channels": "32"})
    assert cfg.default_hooks.logger.interval == 3
    assert cfg.model.decode_head.channels == 32
