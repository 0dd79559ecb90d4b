"""MapSage's mmengine hooks, one per file as in mmengine's own ``mmengine/hooks/``, and the
registry name of every MapSage hook, defined here once.

This module imports nothing: config assembly (:mod:`mapsage.training.config`) reads the names
without importing torch, mmengine's hooks or the hook modules. Importing
:mod:`mapsage.training.plugins` (what a config's ``custom_imports`` names) registers them.
"""

RESULTS_HOOK = "RunResultsHook"  # mapsage.results.hook (results sit a layer above training)
TIME_BUDGET_HOOK = "TimeBudgetHook"  # .time_budget
RESUME_GUARD_HOOK = "ResumeGuardHook"  # .resume_guard
FINAL_VALIDATION_HOOK = "FinalValidationHook"  # .final_validation
FINITE_LOSS_HOOK = "FiniteLossHook"  # .finite_loss
VALIDATION_PROBE_HOOK = "ValidationProbeHook"  # .validation_probe
MEASURE_HOOK = "RunMeasureHook"  # .measure (the Kaggle bootstrap's measuring run; opt-in)
