"""Train SegFormer on LoveDA with mmengine's Runner: ``python -m mapsage.train [--config FILE] key=value ...``

Every ``key=value`` is a training parameter (``mapsage.params.SCHEMA``) or, when the key contains a
dot, an mmengine config option (``train_dataloader.num_workers=0``). Parameters are checked and
the data layout is found before anything heavy is imported, so a mistake costs seconds.

The run leaves in ``work_dir``: checkpoints (``best_mIoU_iter_N.pth`` among them), mmengine's
logs, ``metrics.json``, ``training_curve.png`` and ``predictions.png``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from mapsage.errors import MapSageError
from mapsage.params import SYNTHETIC, TrainParams, parse_assignments, validate

SYNTHETIC_DIR = Path("data/synthetic-loveda")
OVERLAY_SAMPLES = 4


def resolve_data_root(data_root: str, progress=print) -> Path:
    """``'synthetic'`` means the bundled demo data set, generated on first use."""
    if data_root != SYNTHETIC:
        return Path(data_root)
    from mapsage.data.synth import generate

    return generate(SYNTHETIC_DIR, progress=progress)


def resolve_device(requested: str) -> str:
    """Pick the device and hide CUDA from torch when the run must stay on the CPU."""
    if requested == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    import torch

    available = torch.cuda.is_available()
    if requested == "cuda" and not available:
        raise MapSageError(
            "device='cuda' but torch sees no CUDA GPU "
            f"(torch {torch.__version__}, built for CUDA {torch.version.cuda}). Turn on a GPU "
            "(Kaggle: Settings > Accelerator), or set device='auto' or 'cpu'."
        )
    if requested == "auto":
        return "cuda" if available else "cpu"
    return requested


def is_distributed() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def check_work_dir(params: TrainParams) -> None:
    """Refuse a work_dir that cannot be written, or a fresh run on top of another run's checkpoints."""
    work_dir = Path(params.work_dir)
    ancestor = work_dir  # the folder that will hold (or holds) it
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise MapSageError(
            f"work_dir {str(work_dir)!r} cannot be created: {str(ancestor)!r} is a file, not a "
            "folder. Choose another work_dir."
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise MapSageError(
            f"work_dir {str(work_dir)!r} is not writable: {str(ancestor)!r} is read-only here. "
            "Choose a writable work_dir (on Kaggle under /kaggle/working: /kaggle/input is "
            "read-only)."
        )
    if params.resume or not work_dir.is_dir():
        return
    existing = sorted(p.name for p in work_dir.glob("*.pth"))
    if existing:
        raise MapSageError(
            f"work_dir {str(work_dir)!r} already holds checkpoints from an earlier run "
            f"({', '.join(existing[:4])}{', ...' if len(existing) > 4 else ''}). A fresh run would "
            "overwrite them. Set resume=auto to continue that run, or choose a new work_dir."
        )


def batch_report(cfg, params: TrainParams) -> dict:
    """Effective batch and the learning rate mmengine's auto_scale_lr will use."""
    from mapsage.training.distributed import world_size

    processes = world_size()
    effective = params.batch_size * processes
    base = cfg.auto_scale_lr.base_batch_size
    lr = params.lr * effective / base
    return {
        "processes": processes, "batch_per_process": params.batch_size,
        "effective_batch_size": effective, "base_batch_size": base,
        "lr_base": params.lr, "lr_effective": lr,
        "message": (f"mapsage: effective batch size {effective} = {params.batch_size} per "
                    f"process x {processes} process(es); lr {params.lr:g} at the recipe's base "
                    f"batch {base} -> {lr:g} (auto_scale_lr)"),
    }


def _best_checkpoint(work_dir: Path) -> Path | None:
    best = sorted(work_dir.glob("best_mIoU_iter_*.pth"),
                  key=lambda p: int(p.stem.rsplit("_", 1)[-1]))
    return best[-1] if best else None


def overlay_samples(runner, count: int) -> list:
    """Run the trained model on the first validation tiles through the real test pipeline."""
    import numpy as np
    import torch
    from PIL import Image

    dataset = runner.val_dataloader.dataset
    collate = runner.val_dataloader.collate_fn
    samples = []
    runner.model.eval()
    with torch.no_grad():
        for index in range(min(count, len(dataset))):
            batch = collate([dataset[index]])
            (result,) = runner.model.val_step(batch)
            image = np.asarray(Image.open(result.img_path).convert("RGB"))
            truth = result.gt_sem_seg.data[0].cpu().numpy()
            pred = result.pred_sem_seg.data[0].cpu().numpy()
            samples.append((Path(result.img_path).name, image, truth, pred))
    return samples


def finish_run(runner, params: TrainParams, config_file: Path, device: str, started: float,
               scale: dict | None = None) -> dict:
    """Write metrics.json and the pictures from what the Runner logged and saved."""
    from mapsage.results import plots
    from mapsage.results.fingerprint import environment
    from mapsage.results.record import build_metrics, read_run_scalars, write_json
    from mapsage.training.checkpoint import safe_checkpoint_loading

    work_dir = Path(runner.work_dir)
    meta = runner.val_dataloader.dataset.metainfo
    classes, palette = list(meta["classes"]), [list(c) for c in meta["palette"]]
    best = _best_checkpoint(work_dir)
    metrics = build_metrics(
        read_run_scalars(work_dir), classes,
        best_checkpoint=str(best) if best else None,
        model=params.model, config=str(config_file), params=params.as_dict(),
        iterations=runner.iter, wall_time_s=round(time.perf_counter() - started, 2),
        work_dir=str(work_dir), batch=scale or {},
        environment=environment(device),
    )
    matrix = runner.message_hub.get_info("confusion_matrix")
    if matrix is not None:
        metrics["confusion_matrix"] = {"rows": "ground truth", "columns": "prediction",
                                       "classes": classes, "counts": matrix}
    path = write_json(work_dir / "metrics.json", metrics)
    plots.training_curve(metrics, work_dir / "training_curve.png")
    if matrix is not None:
        plots.confusion_matrix(matrix, classes, work_dir / "confusion_matrix.png")
    if best is not None:
        with safe_checkpoint_loading():
            runner.load_checkpoint(str(best), map_location="cpu")
    plots.prediction_overlays(overlay_samples(runner, OVERLAY_SAMPLES), classes, palette,
                              work_dir / "predictions.png")
    from mapsage.results.report import write_report

    write_report(metrics, work_dir)
    print(f"mapsage: mIoU {metrics['mIoU']:.2f} (best {metrics['best']['mIoU']:.2f} at iteration "
          f"{metrics['best']['iteration']}), aAcc {metrics['aAcc']:.2f}; wrote {path}", flush=True)
    return metrics


def newest_valid_checkpoint(work_dir: Path) -> Path | None:
    """The highest ``iter_N.pth`` in ``work_dir`` that is a complete, loadable checkpoint."""
    from mapsage.training.checkpoint import check_checkpoint

    candidates = sorted(work_dir.glob("iter_*.pth"), key=lambda p: int(p.stem.split("_")[-1]),
                        reverse=True)
    for candidate in candidates:
        try:
            check_checkpoint(candidate, role="checkpoint")
        except MapSageError as exc:
            print(f"mapsage: skipping {candidate.name} for resume: {str(exc).splitlines()[0]}",
                  flush=True)
            continue
        return candidate
    return None


def _is_main_process() -> bool:
    return os.environ.get("RANK", "0") == "0"


def preflight(cfg, params: TrainParams, layout, *, distributed: bool, trusted: list) -> None:
    """Everything that can be found wrong before the Runner starts: config, data, disk, weights.

    Globals that trust_checkpoint=True allows for the model's init_cfg checkpoints are appended
    to ``trusted``.
    """
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules

    from mapsage.data.check import check_inputs
    from mapsage.training.checkpoint import check_checkpoint, check_compatible, init_checkpoints
    from mapsage.training.config_check import check_config, raise_on_errors

    raise_on_errors(check_config(cfg, distributed=distributed))
    register_all_modules(init_default_scope=True)
    model = MODELS.build(cfg.model)
    hook = cfg.default_hooks.checkpoint
    saves = -(-params.max_iters // params.checkpoint_interval)
    keep = hook.get("max_keep_ckpts", -1)  # mmengine: -1 (or any value <= 0) keeps them all
    kept = (saves if keep is None or keep <= 0 else min(saves, keep)) + 2  # + best, + in flight
    check_inputs(layout, params.work_dir, parameters=sum(p.numel() for p in model.parameters()),
                 kept=kept, progress=print if _is_main_process() else None)
    if cfg.load_from:
        check_compatible(Path(cfg.load_from), model, trusted, resuming=bool(cfg.resume))
    for key, weights in init_checkpoints(cfg.model):  # init_cfg=dict(type='Pretrained', ...)
        trusted.extend(check_checkpoint(weights, trust=params.trust_checkpoint, role=key)[1])


def train(config_file: str | None, assignments: list[str], launcher: str = "none") -> dict | None:
    started = time.perf_counter()
    values, options = parse_assignments(assignments)
    params = validate(values)
    data_root = resolve_data_root(params.data_root)
    params = validate({**params.as_dict(), "data_root": str(data_root)})
    from mapsage.data.layout import find_loveda

    layout = find_loveda(data_root)
    check_work_dir(params)
    device = resolve_device(params.device)
    trusted: list = []
    if params.load_from:
        from mapsage.training.checkpoint import check_checkpoint

        _, trusted = check_checkpoint(params.load_from, trust=params.trust_checkpoint)

    from mmengine.runner import Runner

    import mapsage.training.atomic_checkpoint
    import mapsage.training.plugins  # registers PerClassIoUMetric
    from mapsage.models import config_for_model
    from mapsage.training import distributed
    from mapsage.training.checkpoint import safe_checkpoint_loading
    from mapsage.training.config import amp_dtype_for, build_config

    config_path = Path(config_file) if config_file else config_for_model(params.model)
    amp_dtype = None
    if params.amp and device == "cuda":
        import torch

        amp_dtype = amp_dtype_for(torch.cuda.get_device_capability())
    cfg = build_config(config_path, params, options, device=device,
                       distributed=launcher != "none", amp_dtype=amp_dtype, layout=layout)
    cfg.launcher = launcher
    leftovers = mapsage.training.atomic_checkpoint.remove_partial_writes(Path(params.work_dir)) \
        if _is_main_process() else []
    for leftover in leftovers:
        print(f"mapsage: removed {leftover.name}, an unfinished checkpoint save of an "
              "interrupted run", flush=True)
    if params.resume:
        newest = newest_valid_checkpoint(Path(params.work_dir))
        if newest is not None:
            cfg.load_from, cfg.resume = str(newest), True
            print(f"mapsage: resuming from {newest}", flush=True)
        else:
            cfg.resume = False
            print(f"mapsage: resume={params.resume!r} but {params.work_dir} has no valid "
                  "checkpoint yet: starting from the beginning", flush=True)
    preflight(cfg, params, layout, distributed=launcher != "none", trusted=trusted)
    if launcher != "none" and device == "cpu":
        distributed.init_cpu_process_group()
    scale = batch_report(cfg, params)
    runner = Runner.from_cfg(cfg)
    runner.logger.info(scale["message"])
    with safe_checkpoint_loading(trusted):
        runner.train()
    if runner.rank != 0:
        return None
    scale.pop("message")
    return finish_run(runner, params, config_path, device, started, scale)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mapsage.train", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Parameters (key=value): " + ", ".join(
            __import__("mapsage.params", fromlist=["BY_NAME"]).BY_NAME),
    )
    parser.add_argument("--config", help="mmengine config file (default: the one for model=...)")
    parser.add_argument("--launcher", choices=["none", "pytorch"], default=None,
                        help="'pytorch' under torchrun (default: detected from WORLD_SIZE)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for user errors")
    parser.add_argument("assignments", nargs="*", metavar="key=value")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from mapsage.training.checkpoint import force_weights_only

    note = force_weights_only()
    if note:
        print(note, flush=True)
    launcher = args.launcher or ("pytorch" if is_distributed() else "none")
    try:
        train(args.config, args.assignments, launcher)
    except MapSageError as exc:
        if args.debug:
            raise
        print(f"mapsage.train: error: {exc}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
