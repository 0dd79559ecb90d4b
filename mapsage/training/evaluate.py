"""Evaluate a model on the validation split without training (mmengine's ValLoop, IoUMetric).

``evaluate(params)`` with no checkpoint measures the untrained baseline: the same config, seed
and data, initial weights. Tests compare a trained run against it.
"""

from __future__ import annotations

from pathlib import Path

from mapsage.params import TrainParams


def evaluate(params: TrainParams, checkpoint: str | Path | None = None,
             config_file: str | Path | None = None) -> dict[str, float]:
    """Validation metrics of ``checkpoint`` (or of the initial weights) with mmengine's ValLoop."""
    from mmengine.runner import Runner
    from mmengine.utils import import_modules_from_strings

    from mapsage.models import config_path
    from mapsage.training.checkpoint.safe_load import check_checkpoint, safe_checkpoint_loading
    from mapsage.training.config import build_config
    from mapsage.training.device import resolve_device

    device = resolve_device(params.device)
    cfg = build_config(config_file or config_path(params.config, params.model), params,
                       device=device)
    # what the config's custom_imports name (MapSage's plugins and its results hook) registers
    # what its custom_hooks and metric use; mmengine's Runner does not import them itself
    import_modules_from_strings(**cfg.custom_imports)
    trusted: list = []
    if checkpoint:
        path, trusted = check_checkpoint(checkpoint, trust=params.trust_checkpoint)
        cfg.load_from = str(path)
    else:
        cfg.load_from = None
    cfg.resume = False
    cfg.default_hooks.checkpoint = None  # nothing to save (and no "best" to track) without training
    runner = Runner.from_cfg(cfg)
    with safe_checkpoint_loading(trusted):
        return {k: float(v) for k, v in runner.val().items()}
