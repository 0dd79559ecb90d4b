"""bootstrap.json arithmetic from RunMeasureHook's per-process files, and the hint printed after
mmcv is built in a Kaggle session."""

from __future__ import annotations

import json

import pytest

from mapsage.kaggle import bootstrap
from mapsage.kaggle_platform import BOOTSTRAP_DEFINITION, wheel_reuse_hint
from mapsage.paths import PROJECT_ROOT

RUN = {"model": "b2", "batch_size": 8, "crop_size": 512, "amp": True, "device": "cuda"}


def _rank(folder, rank, peak, times, waits, val=(30.0,)):
    folder.mkdir(exist_ok=True)
    (folder / f"rank{rank}.json").write_text(json.dumps({
        "rank": rank, "world_size": 2, "device": f"cuda:{rank}", "device_name": "Tesla T4",
        "peak_memory_bytes": peak, "batch_size": 8, "iterations": len(times),
        "iter_time_s": times, "data_time_s": waits, "val_time_s": list(val)}))


def test_two_gpus(tmp_path):
    times = [5.0] + [0.5] * 9  # the first iteration (warm-up) is left out
    waits = [4.0] + [0.1] * 9
    _rank(tmp_path, 1, 7_000_000_000, times, waits)
    _rank(tmp_path, 0, 6_000_000_000, times, waits)
    summary = bootstrap.summarize(tmp_path, {**RUN, "max_iters": 16000, "val_interval": 2000},
                                  {**RUN, "max_iters": 10})
    assert summary["seconds_per_iteration"] == 0.5
    assert summary["images_per_second"] == 32.0  # 2 processes x 8 images / 0.5 s
    assert [d["bytes"] for d in summary["peak_gpu_memory_bytes"]] == [6e9, 7e9]
    assert [d["device"] for d in summary["peak_gpu_memory_bytes"]] == ["cuda:0", "cuda:1"]
    assert summary["data_loader_wait_share"] == 0.2
    assert summary["projection"]["validations"] == 8
    assert summary["projected_full_run_seconds"] == 16000 * 0.5 + 8 * 30.0
    assert summary["measured"]["warmup_iterations"] == 1
    assert all(summary["projection"]["same_recipe"].values())


def test_no_measurements_is_an_error(tmp_path):
    with pytest.raises(bootstrap.MapSageError, match="no measurements"):
        bootstrap.summarize(tmp_path, {**RUN, "max_iters": 1, "val_interval": 1}, RUN)


def test_validations_count_the_last_one():
    assert bootstrap.validations(16000, 2000) == 8
    assert bootstrap.validations(16001, 2000) == 9


def test_hint_after_a_build_on_kaggle_names_the_bootstrap(tmp_path, monkeypatch):
    monkeypatch.setenv("MAPSAGE_KAGGLE_ROOT", str(tmp_path))
    hint = wheel_reuse_hint(tmp_path / "working" / "mapsage-wheelhouse" / "key")
    assert f"mapsage build kaggle --kernel {BOOTSTRAP_DEFINITION}" in hint
    assert "kaggle datasets create" not in hint
    assert (PROJECT_ROOT / BOOTSTRAP_DEFINITION / "kernel.json").is_file()


@pytest.mark.parametrize(("config", "model", "head"), [
    (None, "tiny", "SegformerHead"),
    (None, "b2", "SegformerHead"),
    ("fcn_tiny-128x128.py", "b2", "FCNHead"),
])
def test_the_bootstrap_trains_the_measured_runs_own_config(tmp_path, config, model, head):
    """The config parameter wins over the model, as in the training notebook: a bootstrap for
    an FCN run measures the FCN, not MiT-B2."""
    from mmengine.config import Config

    from mapsage.kaggle.bootstrap import measuring_config
    from mapsage.models import config_path
    from mapsage.params import validate
    from mapsage.training.hooks import MEASURE_HOOK

    params = validate({"model": model, "config": config})
    written = measuring_config(params, tmp_path)
    assert written.name == config_path(config, model).name  # the name the report gives it
    cfg = Config.fromfile(str(written))
    recipe = Config.fromfile(str(config_path(config, model)))
    assert cfg.model.decode_head.type == head
    assert cfg.model.to_dict() == recipe.model.to_dict()
    assert cfg.custom_hooks == [*recipe.get("custom_hooks", []), dict(type=MEASURE_HOOK)]


def test_the_measuring_config_keeps_the_recipes_own_hooks_and_imports(tmp_path):
    """mmengine replaces lists a child config sets: the measuring hook is added to the recipe's
    custom_hooks, never instead of them."""
    from mmengine.config import Config

    from mapsage.kaggle.bootstrap import measure_config
    from mapsage.models import CONFIG_DIR
    from mapsage.training.hooks import MEASURE_HOOK

    mine = tmp_path / "mine.py"
    mine.write_text(f"_base_ = [{str(CONFIG_DIR / 'fcn_tiny-128x128.py')!r}]\n"
                    "custom_imports = dict(imports=['json'], allow_failed_imports=False)\n"
                    "custom_hooks = [dict(type='EMAHook', momentum=0.001)]\n")
    cfg = Config.fromfile(str(measure_config(mine, tmp_path / "out" / "config.py")))
    assert cfg.custom_hooks == [dict(type="EMAHook", momentum=0.001), dict(type=MEASURE_HOOK)]
    assert cfg.custom_imports == dict(imports=["json"], allow_failed_imports=False)
    assert cfg.model.decode_head.type == "FCNHead"
