"""``PerClassIoUMetric`` is mmseg's own ``IoUMetric`` (same per-batch areas, same
``total_area_to_metrics``) that additionally

- returns the per-class IoU and accuracy it already computes and only prints, so they reach the
  logs, ``scalars.json`` and ``metrics.json``;
- accumulates the confusion matrix of the evaluation (rows: ground truth, columns: prediction,
  no-data pixels excluded) and leaves it in the message hub as ``confusion_matrix``, where the
  end-of-run report picks it up. It travels with the per-batch results, so distributed
  evaluation gathers it like the areas.
"""

from __future__ import annotations

import math

import torch
from mmengine.logging import MessageHub
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS

from mapsage.training.metrics import CONFUSION_KEY, PER_CLASS_IOU_METRIC


def confusion(pred: torch.Tensor, label: torch.Tensor, num_classes: int,
              ignore_index: int) -> torch.Tensor:
    keep = label != ignore_index
    index = label[keep].long() * num_classes + pred[keep].long()
    return torch.bincount(index, minlength=num_classes ** 2).reshape(num_classes, num_classes)


@METRICS.register_module(name=PER_CLASS_IOU_METRIC)
class PerClassIoUMetric(IoUMetric):
    def process(self, data_batch: dict, data_samples) -> None:
        before = len(self.results)
        super().process(data_batch, data_samples)
        num_classes = len(self.dataset_meta["classes"])
        for offset, sample in enumerate(data_samples):
            pred = sample["pred_sem_seg"]["data"].squeeze()
            label = sample["gt_sem_seg"]["data"].squeeze().to(pred)
            matrix = confusion(pred, label, num_classes, self.ignore_index).cpu()
            self.results[before + offset] = (*self.results[before + offset], matrix)

    def compute_metrics(self, results: list) -> dict[str, float]:
        areas = [r[:4] for r in results]
        metrics = super().compute_metrics(areas)
        if self.format_only or not results:
            return metrics
        intersect, union, pred_area, label_area = (sum(column) for column in zip(*areas, strict=True))
        per_class = self.total_area_to_metrics(
            intersect, union, pred_area, label_area, self.metrics, self.nan_to_num, self.beta)
        per_class.pop("aAcc", None)
        for name, values in per_class.items():
            for cls, value in zip(self.dataset_meta["classes"], values, strict=True):
                value = float(value)
                # a class absent from both prediction and ground truth has no IoU (NaN)
                metrics[f"{name}.{cls}"] = float("nan") if math.isnan(value) else round(value * 100, 2)
        if len(results[0]) > 4:
            matrix = sum(r[4] for r in results)
            MessageHub.get_current_instance().update_info(CONFUSION_KEY, matrix.tolist())
        return metrics
