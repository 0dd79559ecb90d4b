"""The effective batch of a run and the learning rate mmengine's ``auto_scale_lr`` trains it
with: what the recipe message, resume's vetting and ``metrics.json`` all report."""

from __future__ import annotations


def batch_scaling(cfg, processes: int) -> dict:
    """Effective batch and the learning rate mmengine's ``auto_scale_lr`` trains with."""
    per_process = cfg.train_dataloader.batch_size
    effective = per_process * processes
    scale = cfg.get("auto_scale_lr") or {}
    base = scale.get("base_batch_size", effective)
    lr = cfg.optim_wrapper.optimizer.lr
    scaled = lr * effective / base if scale.get("enable") else lr
    return {"processes": processes, "batch_per_process": per_process,
            "effective_batch_size": effective, "base_batch_size": base,
            "lr_base": lr, "lr_effective": scaled}


def describe_scaling(scaling: dict) -> str:
    return (f"mapsage: effective batch size {scaling['effective_batch_size']} = "
            f"{scaling['batch_per_process']} per process x {scaling['processes']} process(es); "
            f"lr {scaling['lr_base']:g} at the recipe's base batch {scaling['base_batch_size']} "
            f"-> {scaling['lr_effective']:g} (auto_scale_lr)")
