"""MapSage's training additions to mmengine's and mmseg's registries: importing this module
registers all of them. It is the one module a config's ``custom_imports`` names for them, beside
:mod:`mapsage.results.hook` (the results hook, which lives a layer above training).

- the hooks in :mod:`mapsage.training.hooks` (one per file; their registry names are defined in
  that package's ``__init__``): ``TimeBudgetHook`` (the ``time_limit`` parameter),
  ``ResumeGuardHook`` (vets a loaded checkpoint's metadata), ``FinalValidationHook``,
  ``FiniteLossHook`` (a non-finite loss fails the run), ``ValidationProbeHook`` (one validation
  batch before the first training iteration) and ``RunMeasureHook`` (opt-in: the Kaggle
  bootstrap's measuring run);
- ``PerClassIoUMetric`` (:mod:`mapsage.training.metrics.per_class_iou`);
- the ``mapsage_atomic_local`` checkpoint file backend (:mod:`mapsage.training.checkpoint.atomic`);
- ``CPUDistributedDataParallel`` (:mod:`mapsage.training.distributed`).
"""

from __future__ import annotations

import mapsage.training.checkpoint.atomic
import mapsage.training.distributed
import mapsage.training.hooks.final_validation
import mapsage.training.hooks.finite_loss
import mapsage.training.hooks.measure
import mapsage.training.hooks.resume_guard
import mapsage.training.hooks.time_budget
import mapsage.training.hooks.validation_probe
import mapsage.training.metrics.per_class_iou  # noqa: F401  (each registers its part)
