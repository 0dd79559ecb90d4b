"""Everything that can be found wrong before the Runner starts: config, data, disk, weights."""

from __future__ import annotations

from pathlib import Path

from mapsage.params import TrainParams
from mapsage.training.device import is_main_process


def preflight(cfg, params: TrainParams, layout, *, distributed: bool, trusted: list) -> None:
    """Check the config, the data, the disk and every checkpoint the run will load.

    Globals that trust_checkpoint=True allows for the model's init_cfg checkpoints are appended
    to ``trusted``.
    """
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules

    from mapsage.data.check import check_inputs
    from mapsage.training.checkpoint import check_checkpoint, check_compatible, init_checkpoints
    from mapsage.training.config_check import check_config, raise_on_errors
    from mapsage.training.pretrained import check_fits

    raise_on_errors(check_config(cfg, distributed=distributed))
    register_all_modules(init_default_scope=True)
    model = MODELS.build(cfg.model)
    hook = cfg.default_hooks.checkpoint
    saves = -(-cfg.train_cfg.max_iters // hook.interval)
    keep = hook.get("max_keep_ckpts", -1)  # mmengine: -1 (or any value <= 0) keeps them all
    kept = (saves if keep is None or keep <= 0 else min(saves, keep)) + 2  # + best, + in flight
    check_inputs(layout, params.work_dir, parameters=sum(p.numel() for p in model.parameters()),
                 kept=kept, progress=print if is_main_process() else None)
    if cfg.load_from:
        check_compatible(Path(cfg.load_from), model, trusted, resuming=bool(cfg.resume))
    for key, weights in init_checkpoints(cfg.model):  # init_cfg=dict(type='Pretrained', ...)
        trusted.extend(check_checkpoint(weights, trust=params.trust_checkpoint, role=key)[1])
        if key == "model.backbone.init_cfg.checkpoint":  # mmengine would load a misfit silently
            check_fits(weights, model.backbone, trusted)
