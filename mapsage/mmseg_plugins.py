"""MapSage's additions to mmseg's registries (imported by the training process via custom_imports).

``PerClassIoUMetric`` is mmseg's own ``IoUMetric`` (same per-batch areas, same
``total_area_to_metrics``) that additionally returns the per-class IoU and accuracy it already
computes and only prints, so they reach the logs, ``scalars.json`` and ``metrics.json``.
"""

from __future__ import annotations

import math

from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS


@METRICS.register_module()
class PerClassIoUMetric(IoUMetric):
    def compute_metrics(self, results: list) -> dict[str, float]:
        metrics = super().compute_metrics(results)
        if self.format_only or not results:
            return metrics
        intersect, union, pred_area, label_area = (sum(column) for column in zip(*results, strict=True))
        per_class = self.total_area_to_metrics(
            intersect, union, pred_area, label_area, self.metrics, self.nan_to_num, self.beta)
        per_class.pop("aAcc", None)
        for name, values in per_class.items():
            for cls, value in zip(self.dataset_meta["classes"], values, strict=True):
                value = float(value)
                # a class absent from both prediction and ground truth has no IoU (NaN)
                metrics[f"{name}.{cls}"] = float("nan") if math.isnan(value) else round(value * 100, 2)
        return metrics
