"""The recipe lives in the config files: b0-b5 resolve to the published SegFormer recipe, the tiny
demo to its own short schedule, and a value given as a parameter wins over the config."""

import re

import pytest

from mapsage.errors import ParamError
from mapsage.models import config_for_model
from mapsage.params import validate
from mapsage.training.config import build_config
from mapsage.training.recipe import recipe_message, recipe_values

MIT_SIZES = ["b0", "b1", "b2", "b3", "b4", "b5"]
MIT_URL = re.compile(r"^https://download\.openmmlab\.com/mmsegmentation/v0\.5/pretrain/segformer/"
                     r"mit_(b\d)_20220624-[0-9a-f]{8}\.pth$")


@pytest.fixture(autouse=True)
def no_weights_on_this_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("MAPSAGE_PRETRAINED_DIR", str(tmp_path / "pretrained"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("MAPSAGE_OFFLINE", "1")
    monkeypatch.delenv("MAPSAGE_KAGGLE_ROOT", raising=False)


def _cfg(synthetic_root, tmp_path, **values):
    params = validate({"data_root": str(synthetic_root), "work_dir": str(tmp_path / "w"),
                       **values})
    return build_config(config_for_model(params.model), params)


@pytest.mark.parametrize("model", MIT_SIZES)
def test_mit_models_resolve_to_the_published_recipe(synthetic_root, tmp_path, model):
    cfg = _cfg(synthetic_root, tmp_path, model=model)
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, tuple(optimizer.betas), optimizer.weight_decay) == (
        "AdamW", 6e-5, (0.9, 0.999), 0.01)
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys == {
        "pos_block": {"decay_mult": 0.0}, "norm": {"decay_mult": 0.0}, "head": {"lr_mult": 10.0}}
    warm, poly = cfg.param_scheduler
    assert (warm.type, warm.begin, warm.end) == ("LinearLR", 0, 1500)
    assert (poly.type, poly.power, poly.begin, poly.end) == ("PolyLR", 1.0, 1500, 80000)
    assert cfg.train_cfg.max_iters == 80000 and cfg.train_cfg.val_interval == 8000
    assert cfg.default_hooks.checkpoint.interval == 8000
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.auto_scale_lr == {"enable": True, "base_batch_size": 16}
    crop = [t for t in cfg.train_dataloader.dataset.datasets[0].pipeline if t.type == "RandomCrop"]
    assert crop[0].crop_size == (512, 512) == cfg.model.data_preprocessor.size
    init = cfg.model.backbone.init_cfg
    assert init.type == "Pretrained"
    assert MIT_URL.match(init.checkpoint).group(1) == model, "the weights of the model's own size"


def test_a_value_given_wins_over_the_config(synthetic_root, tmp_path):
    cfg = _cfg(synthetic_root, tmp_path, model="b2", max_iters=1000, val_interval=250,
               checkpoint_interval=500, batch_size=4, crop_size=256, lr=1e-4)
    assert cfg.train_cfg.max_iters == 1000 and cfg.train_cfg.val_interval == 250
    assert cfg.default_hooks.checkpoint.interval == 500
    assert cfg.train_dataloader.batch_size == 4
    assert cfg.optim_wrapper.optimizer.lr == 1e-4
    assert cfg.crop_size == (256, 256) == cfg.model.data_preprocessor.size
    warm, poly = cfg.param_scheduler
    assert warm.end == poly.begin == 100 and poly.end == 1000, "10 % warm-up, decay to the end"


def test_tiny_demo_keeps_the_demo_schedule(synthetic_root, tmp_path):
    cfg = _cfg(synthetic_root, tmp_path)
    assert cfg.train_cfg.max_iters == 300 and cfg.train_cfg.val_interval == 100
    assert cfg.default_hooks.checkpoint.interval == 100
    assert cfg.default_hooks.logger.interval == 10
    assert cfg.train_dataloader.batch_size == 8
    assert cfg.optim_wrapper.optimizer.lr == 0.004
    assert cfg.crop_size == (128, 128)
    warm, poly = cfg.param_scheduler
    assert warm.end == poly.begin == 30 and poly.end == 300
    assert cfg.model.backbone.get("init_cfg") is None, "the demo trains from scratch"


def test_val_interval_beyond_the_configs_max_iters_is_refused(synthetic_root, tmp_path):
    with pytest.raises(ParamError, match="val_interval = 500 is larger than max_iters = 300"):
        _cfg(synthetic_root, tmp_path, val_interval=500)


def test_a_short_run_validates_and_saves_at_its_end(synthetic_root, tmp_path):
    cfg = _cfg(synthetic_root, tmp_path, model="b2", max_iters=2000)
    assert cfg.train_cfg.val_interval == 2000 == cfg.default_hooks.checkpoint.interval
    cfg = _cfg(synthetic_root, tmp_path, max_iters=20)  # tiny: 100 -> 20
    assert cfg.train_cfg.val_interval == 20 == cfg.default_hooks.checkpoint.interval


def test_a_run_too_short_for_a_warm_up_has_none(synthetic_root, tmp_path):
    # mmengine's LinearLR never reaches its end factor: 1 warm-up step left lr at 1e-6 x lr
    warm, poly = _cfg(synthetic_root, tmp_path, max_iters=50).param_scheduler
    assert (warm.start_factor, warm.end_factor, warm.end) == (1.0, 1.0, 1), "a no-op"
    assert (poly.type, poly.begin, poly.end) == ("PolyLR", 1, 50)
    warm, poly = _cfg(synthetic_root, tmp_path, max_iters=100).param_scheduler
    assert warm.end == poly.begin == 10


def test_recipe_report_shows_the_scaled_lr_and_where_weights_come_from(synthetic_root, tmp_path):
    values = recipe_values(_cfg(synthetic_root, tmp_path, model="b2"), processes=1)
    assert values["lr_effective"] == pytest.approx(6e-5 * 2 / 16)
    message = recipe_message(values)
    assert "80000 iterations (1500 warm-up)" in message and "crop 512x512" in message
    assert "lr 6e-05 at the recipe's base batch 16 -> 7.5e-06" in message
    assert "mit_b2_20220624-66e8bf70.pth (not on this machine: downloaded into" in message
    tiny = recipe_message(recipe_values(_cfg(synthetic_root, tmp_path)))
    assert "from scratch" in tiny and "lr 0.004 at the recipe's base batch 16 -> 0.002" in tiny
