"""What a resolved config will run: the recipe's numbers a user checks before spending GPU time.

Read from the assembled mmengine config (:func:`mapsage.training.config.build_config`), so they
are the values the Runner gets, whether the model's config file or a parameter set them.
"""

from __future__ import annotations

from typing import Any


def recipe_values(cfg: Any, processes: int = 1) -> dict[str, Any]:
    """Schedule, crop, batch, learning rate (as given and after auto_scale_lr) and the initial
    weights of ``cfg`` for a run with ``processes`` training processes."""
    from mapsage.training.pretrained import describe

    batch = int(cfg.train_dataloader.batch_size)
    effective = batch * processes
    scale = cfg.get("auto_scale_lr") or {}
    base = int(scale.get("base_batch_size", effective))
    lr = float(cfg.optim_wrapper.optimizer.lr)
    lr_effective = lr * effective / base if scale.get("enable") else lr
    warm = [s for s in cfg.get("param_scheduler") or [] if s.get("type") == "LinearLR"]
    crop = cfg.get("crop_size")
    return {
        "max_iters": int(cfg.train_cfg.max_iters),
        "val_interval": int(cfg.train_cfg.val_interval),
        "checkpoint_interval": int(cfg.default_hooks.checkpoint.interval),
        "warmup_iters": int(warm[0].get("end", 0)) if warm else 0,
        "crop_size": list(crop) if crop else None,
        "processes": processes,
        "batch_per_process": batch,
        "effective_batch_size": effective,
        "base_batch_size": base,
        "lr_base": lr,
        "lr_effective": lr_effective,
        "init": describe(cfg),
    }


def recipe_message(values: dict[str, Any]) -> str:
    """The values of :func:`recipe_values` as the lines a run prints before training."""
    crop = "x".join(str(c) for c in values["crop_size"]) if values["crop_size"] else "none"
    return "\n".join([
        f"mapsage: recipe: {values['max_iters']} iterations ({values['warmup_iters']} warm-up), "
        f"validation every {values['val_interval']}, checkpoint every "
        f"{values['checkpoint_interval']}; crop {crop}",
        f"mapsage: effective batch size {values['effective_batch_size']} = "
        f"{values['batch_per_process']} per process x {values['processes']} process(es); "
        f"lr {values['lr_base']:g} at the recipe's base batch {values['base_batch_size']} -> "
        f"{values['lr_effective']:g} (auto_scale_lr)",
        f"mapsage: initial weights: {values['init']}",
    ])
