"""The end-of-run work as an mmengine hook: ``metrics.json``, the pictures and ``report.md``.

:class:`RunResultsHook` is registered in mmseg's ``HOOKS`` registry and listed in the config's
``custom_hooks`` (``mapsage.training.config``), its module in ``custom_imports``: a config saved
by a MapSage run therefore produces the same outputs under mmseg's own ``tools/train.py``.
It acts at ``after_train`` (not ``after_run``), so an evaluation-only ``Runner.val()`` never
overwrites a run's results. Only rank 0 writes.
"""

from __future__ import annotations

import time
from pathlib import Path

from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from mapsage.artefacts import CONFUSION_MATRIX, METRICS, PREDICTIONS, TRAINING_CURVE
from mapsage.training.batch import batch_scaling, describe_scaling
from mapsage.training.hooks import RESULTS_HOOK
from mapsage.training.metrics import CONFUSION_KEY

OVERLAY_SAMPLES = 4


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


def run_dataset(runner) -> dict:
    """The description of the data set the run trains on (``cfg.dataset_description``,
    recorded by ``apply_dataset``); LoveDA's for a config without one."""
    import json

    from mapsage.data.dataset import LOVEDA

    recorded = runner.cfg.get("dataset_description")
    return json.loads(json.dumps(recorded)) if recorded else LOVEDA.as_dict()


@HOOKS.register_module(name=RESULTS_HOOK)
class RunResultsHook(Hook):
    """Write ``metrics.json``, ``training_curve.png``, ``confusion_matrix.png``,
    ``predictions.png`` and ``report.md`` into the work_dir when training ends.

    Args:
        model: the ``model=`` name, recorded in metrics.json.
        config: the config file the run was built from, recorded in metrics.json.
        params: the run's training parameters (a plain dict), recorded in metrics.json.
        started_at: epoch seconds when the run started (default: when the Runner started).
        overlay_samples: how many validation tiles ``predictions.png`` shows.
    """

    priority = "VERY_LOW"

    def __init__(self, model: str | None = None, config: str | None = None,
                 params: dict | None = None, started_at: float | None = None,
                 overlay_samples: int = OVERLAY_SAMPLES):
        self.model, self.config, self.params = model, config, dict(params or {})
        self.started_at, self.samples = started_at, overlay_samples
        self.scaling: dict = {}
        self.earlier_sessions: list[dict] = []

    def before_run(self, runner) -> None:
        if self.started_at is None:
            self.started_at = time.time()
        self.scaling = batch_scaling(runner.cfg, runner.world_size)
        runner.logger.info(describe_scaling(self.scaling))
        if runner.rank == 0 and runner.cfg.get("resume"):
            # a resumed run's earlier sessions, read before this one replaces metrics.json
            from mapsage.results.wall_time import earlier_sessions

            self.earlier_sessions = earlier_sessions(Path(runner.work_dir) / METRICS)

    def wall_time(self, runner, *, iteration: int, status: str) -> dict:
        """``wall_time_s`` over the run's sessions, this session's own, and the sessions."""
        from mapsage.results.wall_time import run_wall_time

        started = self.started_at if self.started_at is not None else time.time()
        return run_wall_time(self.earlier_sessions, {
            "log_dir": Path(runner.log_dir).name, "wall_time_s": round(time.time() - started, 2),
            "iterations": iteration, "status": status})

    def after_train(self, runner) -> None:
        if runner.rank == 0:
            self.write(runner)

    def write_failure(self, runner, reason: str, *, iteration: int) -> Path:
        """``metrics.json`` of a run that failed during training (a non-finite loss,
        :mod:`mapsage.training.hooks.finite_loss`): ``"status": "failed"``, where and why, no scores;
        it replaces a status an earlier session of the work_dir left there."""
        from mapsage.results.record import write_json

        work_dir = Path(runner.work_dir)
        return write_json(work_dir / METRICS, {
            "status": "failed", "error": reason, "iterations": iteration,
            "max_iters": runner.max_iters, "model": self.model, "config": self.config,
            "params": self.params, **self.wall_time(runner, iteration=iteration, status="failed"),
            "work_dir": str(work_dir), "batch": self.scaling})

    def sources(self, runner, metrics: dict, best) -> dict[str, str]:
        """picture -> which split and which checkpoint it shows, in words."""
        from mapsage.results.sources import checkpoint_name, final_iteration, split_name

        work_dir = Path(runner.work_dir)
        split = f"{run_dataset(runner)['name']} {split_name(runner.val_dataloader.dataset)}"
        evaluated = checkpoint_name(work_dir, final_iteration(metrics))
        shown = (f"best checkpoint, {checkpoint_name(work_dir, metrics['best']['iteration'], best)}"
                 if best is not None else f"final weights, {evaluated}")
        tiles = min(self.samples, len(runner.val_dataloader.dataset))
        return {CONFUSION_MATRIX: f"{split}; final evaluation, {evaluated}",
                PREDICTIONS: f"{split}, first {tiles} tiles; {shown}"}

    def write(self, runner) -> dict:
        from mapsage.results import plots
        from mapsage.results.fingerprint import environment
        from mapsage.results.record import build_metrics, write_json
        from mapsage.results.report import one_line, write_report
        from mapsage.training.checkpoint.resume import best_checkpoint
        from mapsage.training.checkpoint.safe_load import safe_checkpoint_loading
        from mapsage.training.scalars import read_run_scalars

        work_dir = Path(runner.work_dir)
        meta = runner.val_dataloader.dataset.metainfo
        classes, palette = list(meta["classes"]), [list(c) for c in meta["palette"]]
        best = best_checkpoint(work_dir)
        device = next(runner.model.parameters()).device.type
        from mapsage.training.time_budget import run_status

        outcome = run_status(runner)  # "finished", or "time_limit" and where it stopped
        metrics = build_metrics(
            read_run_scalars(work_dir), classes,
            best_checkpoint=str(best) if best else None,
            model=self.model, config=self.config, params=self.params,
            iterations=runner.iter,
            **self.wall_time(runner, iteration=runner.iter, status=outcome["status"]),
            work_dir=str(work_dir), batch=self.scaling, environment=environment(device),
            dataset=run_dataset(runner),
        )
        metrics["status"] = outcome.pop("status")
        if metrics["status"] == "time_limit":
            metrics["time_limit"] = outcome
        matrix = runner.message_hub.get_info(CONFUSION_KEY)
        if matrix is not None:
            metrics["confusion_matrix"] = {"rows": "ground truth", "columns": "prediction",
                                           "classes": classes, "counts": matrix}
        path = write_json(work_dir / METRICS, metrics)
        sources = self.sources(runner, metrics, best)
        plots.training_curve(metrics, work_dir / TRAINING_CURVE)
        if matrix is not None:
            plots.confusion_matrix(matrix, classes, work_dir / CONFUSION_MATRIX,
                                   source=sources[CONFUSION_MATRIX])
        if best is not None:
            with safe_checkpoint_loading():
                runner.load_checkpoint(str(best), map_location="cpu")
        plots.prediction_overlays(overlay_samples(runner, self.samples), classes, palette,
                                  work_dir / PREDICTIONS,
                                  source=sources[PREDICTIONS],
                                  ignore_index=run_dataset(runner).get("ignore_index", 255))
        write_report(metrics, work_dir, sources=sources)
        runner.logger.info(f"mapsage: {one_line(metrics)}; wrote {path}")
        print(f"mapsage: mIoU {metrics['mIoU']:.2f} (best {metrics['best']['mIoU']:.2f} at "
              f"iteration {metrics['best']['iteration']}), aAcc {metrics['aAcc']:.2f}; "
              f"wrote {path}", flush=True)
        return metrics
