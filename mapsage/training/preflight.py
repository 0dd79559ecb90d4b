"""Everything that can be found wrong before the Runner starts, cheapest first.

:func:`check_config_and_crop` reads only the config and the data check's result, so it runs
before the pretrained weights are looked up (and perhaps downloaded); :func:`preflight` builds
the model and checks the disk and every checkpoint the run will load, after.
"""

from __future__ import annotations

from pathlib import Path

from mapsage.data.check_cache import Passed
from mapsage.params import TrainParams
from mapsage.training.device import is_main_process


def check_config_and_crop(cfg, layout, *, distributed: bool, data: Passed | None = None) -> None:
    """Check the config (types, schedule, loops: :mod:`mapsage.training.config_check`) and the
    crop it settled on against the data; the data itself was checked before the heavy imports
    (``data``: :func:`mapsage.training.data_check.check_data`). Nothing is downloaded or built."""
    from mapsage.training.config_check import check_config, raise_on_errors
    from mapsage.training.data_check import check_crop

    raise_on_errors(check_config(cfg, distributed=distributed))
    check_crop(layout, data, cfg.get("crop_size"))


def preflight(cfg, params: TrainParams, layout, *, distributed: bool, trusted: list,
              data: Passed | None = None) -> None:
    """Check the disk and every checkpoint the run will load (the pretrained weights are local
    by now: :func:`mapsage.training.pretrained.ensure_local`); :func:`check_config_and_crop`
    ran before. Records the passed data check in work_dir when everything passed.

    Globals that trust_checkpoint=True allows for the model's init_cfg checkpoints are appended
    to ``trusted``.
    """
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules

    from mapsage.data.check import check_disk, checkpoint_bytes, raise_on_problems
    from mapsage.training.checkpoint.safe_load import (
        check_checkpoint,
        check_compatible,
        init_checkpoints,
    )
    from mapsage.training.data_check import record
    from mapsage.training.pretrained import check_fits

    register_all_modules(init_default_scope=True)
    model = MODELS.build(cfg.model)
    hook = cfg.default_hooks.checkpoint
    saves = -(-cfg.train_cfg.max_iters // hook.interval)
    keep = hook.get("max_keep_ckpts", -1)  # mmengine: -1 (or any value <= 0) keeps them all
    kept = (saves if keep is None or keep <= 0 else min(saves, keep)) + 2  # + best, + in flight
    if is_main_process():
        disk = check_disk(params.work_dir, checkpoint_bytes(
            sum(p.numel() for p in model.parameters()), kept))
        raise_on_problems(layout, [disk] if disk else [])
    if cfg.load_from:
        check_compatible(Path(cfg.load_from), model, trusted, resuming=bool(cfg.resume),
                         dataset=cfg.get("dataset_description"))
    for key, weights in init_checkpoints(cfg.model):  # init_cfg=dict(type='Pretrained', ...)
        trusted.extend(check_checkpoint(weights, trust=params.trust_checkpoint, role=key)[1])
        if key == "model.backbone.init_cfg.checkpoint":  # mmengine would load a misfit silently
            check_fits(weights, model.backbone, trusted)
    record(params.work_dir, data)
