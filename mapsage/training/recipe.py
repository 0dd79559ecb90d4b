"""What a resolved config will run: the recipe's numbers a user checks before spending GPU time.

Read from the assembled mmengine config (:func:`mapsage.training.config.build_config`), so they
are the values the Runner gets, whether the model's config file or a parameter set them.
"""

from __future__ import annotations

from typing import Any


def recipe_values(cfg: Any, processes: int = 1) -> dict[str, Any]:
    """Schedule, crop, batch, learning rate (as given and after auto_scale_lr) and the initial
    weights of ``cfg`` for a run with ``processes`` training processes."""
    from mapsage.training.batch import batch_scaling
    from mapsage.training.pretrained import describe

    warm = [s for s in cfg.get("param_scheduler") or [] if s.get("type") == "LinearLR"]
    crop = cfg.get("crop_size")
    return {
        "max_iters": int(cfg.train_cfg.max_iters),
        "val_interval": int(cfg.train_cfg.val_interval),
        "checkpoint_interval": int(cfg.default_hooks.checkpoint.interval),
        "warmup_iters": int(warm[0].get("end", 0)) if warm else 0,
        "crop_size": list(crop) if crop else None,
        **batch_scaling(cfg, processes),
        "init": describe(cfg),
    }


def recipe_message(values: dict[str, Any]) -> str:
    """The values of :func:`recipe_values` as the lines a run prints before training."""
    from mapsage.training.batch import describe_scaling

    crop = "x".join(str(c) for c in values["crop_size"]) if values["crop_size"] else "none"
    return "\n".join([
        f"mapsage: recipe: {values['max_iters']} iterations ({values['warmup_iters']} warm-up), "
        f"validation every {values['val_interval']}, checkpoint every "
        f"{values['checkpoint_interval']}; crop {crop}",
        describe_scaling(values),
        f"mapsage: initial weights: {values['init']}",
    ])
