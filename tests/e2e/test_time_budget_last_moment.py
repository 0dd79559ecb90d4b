"""The time budget stops at the last safe moment, whatever the checkpoint schedule (issue #21):
with ``checkpoint_interval`` 20 a run whose next scheduled checkpoint (60) no longer fits goes on,
iteration by iteration, while one more iteration and a save (and a validation, if due) still
fit, then saves an off-schedule ``iter_N.pth`` and stops; ``resume=auto`` continues from it to
``max_iters``.

The real Runner, model, data and hooks train in this process; only the budget's clock is a
virtual one, advanced by a hook of the test by fixed amounts (an iteration 10 s, a validation
30 s, a checkpoint save 20 s), so where the run stops does not depend on this machine's speed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from mmengine.hooks import Hook

pytestmark = pytest.mark.slow
ITERATION_S, VALIDATION_S, SAVE_S = 10.0, 30.0, 20.0
# Enough for the validations at 20 and 40 (until the first one a validation is guessed as one
# iteration per validation batch), not for the iterations to the checkpoint at 60
BUDGET_S = 810.0
RUN = {"model": "tiny", "max_iters": 60, "val_interval": 20, "checkpoint_interval": 20,
       "batch_size": 2, "crop_size": 64, "num_workers": 0, "device": "cpu", "amp": False}


class VirtualClock:
    """``time`` as mapsage.training.time_budget and its hook use it, on a virtual clock."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.strftime, self.gmtime = time.strftime, time.gmtime

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


class Costs(Hook):
    """Advances the virtual clock by what each step costs (before the budget hook, LOWEST,
    looks at it)."""

    priority = "NORMAL"

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.clock.now += ITERATION_S

    def after_val_epoch(self, runner, metrics=None) -> None:
        self.clock.now += VALIDATION_S

    def before_save_checkpoint(self, runner, checkpoint) -> None:
        self.clock.now += SAVE_S


def _config(synthetic_root, work_dir, **extra):
    from mapsage.data.layout import find_layout
    from mapsage.models import config_for_model
    from mapsage.params import validate
    from mapsage.training.config import build_config

    params = validate({**RUN, "data_root": str(synthetic_root), "work_dir": str(work_dir),
                       **extra})
    return build_config(config_for_model("tiny"), params, device="cpu",
                        layout=find_layout(params.data_root, params.dataset))


def test_a_run_stops_at_the_last_safe_moment_and_resumes_from_there(synthetic_root, tmp_path,
                                                                   monkeypatch):
    from mmengine.runner import Runner

    import mapsage.results.hook
    import mapsage.training.plugins  # noqa: F401  (what the config's custom_imports loads)
    from mapsage.training import time_budget
    from mapsage.training.checkpoint.safe_load import safe_checkpoint_loading
    from mapsage.training.hooks import time_budget as time_budget_hook

    clock = VirtualClock()
    monkeypatch.setattr(time_budget, "time", clock)  # run_status: the budget left unused
    monkeypatch.setattr(time_budget_hook, "time", clock)  # the hook's measurements
    work_dir = tmp_path / "run"
    runner = Runner.from_cfg(_config(synthetic_root, work_dir, time_limit=BUDGET_S))
    budget = next(h for h in runner.hooks if isinstance(h, time_budget_hook.TimeBudgetHook))
    budget.deadline = clock.now + BUDGET_S  # counted from here, not from pytest's start
    runner.register_hook(Costs(clock))
    with safe_checkpoint_loading():
        runner.train()

    metrics = json.loads((work_dir / "metrics.json").read_text())
    stop = metrics["time_limit"]
    assert metrics["status"] == "time_limit"
    stopped = metrics["iterations"]
    assert stop["iteration"] == stopped
    # past the scheduled checkpoint at 40, short of the one at 60: on the way, off the schedule
    assert 40 < stopped < 60, stop
    assert (work_dir / f"iter_{stopped}.pth").is_file()
    assert (work_dir / "last_checkpoint").read_text().strip().endswith(f"iter_{stopped}.pth")
    # the costs it reserved were measured in the run: the longest of each (a validation
    # includes the checkpoint saves mmengine's CheckpointHook makes in it, the best one's)
    assert stop["seconds_per_iteration"] == ITERATION_S
    assert stop["checkpoint_s"] == SAVE_S
    saves_in_validation = (stop["validation_s"] - VALIDATION_S) / SAVE_S
    assert saves_in_validation >= 1 and saves_in_validation == int(saves_in_validation), stop
    # the last safe moment: one more iteration no longer fitted, but it did one iteration ago
    assert stop["seconds_left"] < stop["needed_to_go_on_s"] <= stop["seconds_left"] + ITERATION_S
    # and the stop's own save and the validation the run ends with still ended inside the budget
    assert 0 <= stop["unused_s"] <= stop["seconds_left"] - SAVE_S - VALIDATION_S

    # resume=auto picks the off-schedule checkpoint and trains on to max_iters
    args = [f"{k}={v}" for k, v in RUN.items()]
    proc = subprocess.run([sys.executable, "-m", "mapsage.train", f"data_root={synthetic_root}",
                           f"work_dir={work_dir}", "resume=auto", *args],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f"resuming from {work_dir / f'iter_{stopped}.pth'}" in proc.stdout
    resumed = json.loads((work_dir / "metrics.json").read_text())
    assert resumed["status"] == "finished" and resumed["iterations"] == 60
    logged = [r["iteration"] for r in resumed["history"]["train"]]
    assert logged == sorted(set(logged)) and logged[-1] == 60
    # the first session ended with a validation of the iteration it reached, as every run does
    assert [r["iteration"] for r in resumed["history"]["val"]] == [20, 40, stopped, 60]
