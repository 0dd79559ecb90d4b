"""Poisoned training state is never reported as a good run.

A resume checkpoint's optimizer, schedulers, iteration counters and best score are vetted
against the config before training (one clear error naming the file, the field, its value and
the fix), and a run whose loss stops being a number fails with ``"status": "failed"``. Every
checkpoint here is a real one of a real tiny run (``finished_run``), edited with the safe loader.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from mapsage.errors import MapSageError
from mapsage.training.checkpoint.safe_load import load_checkpoint_file
from mapsage.training.workdir_lock import LOCK_NAME

pytestmark = pytest.mark.slow


def _copy(run: Path, where: Path) -> Path:
    target = where / "runB"
    shutil.copytree(run, target, symlinks=True)
    return target


def _edit(path: Path, change) -> None:
    checkpoint = load_checkpoint_file(path, role="checkpoint")
    change(checkpoint)
    edited = path.with_suffix(".edited")
    torch.save(checkpoint, edited)
    edited.replace(path)


def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*")
            if p.name != LOCK_NAME}


def _nan_lr(c):
    c["optimizer"]["param_groups"][0]["lr"] = float("nan")


def _schedulers_far_ahead(c):
    for scheduler in c["param_schedulers"]:
        scheduler["_global_step"] = 10**9


def _iter_past_the_end(c):
    c["meta"]["iter"] = 50


def _unreachable_best(c):
    c["message_hub"]["runtime_info"]["best_score"] = 1e9


def _huge_lr(c):
    for group in c["optimizer"]["param_groups"]:
        group["lr"] = group["initial_lr"] = 1e9


def _infinite_moment(c):
    moment = next(iter(c["optimizer"]["state"].values()))["exp_avg"]
    moment.view(-1)[0] = float("inf")


def _nan_weight(c):
    weight = next(v for v in c["state_dict"].values() if v.is_floating_point())
    weight.view(-1)[0] = float("nan")


def _foreign_scheduler_key(c):
    c["param_schedulers"][1]["param_name"] = "weight_decay"


POISONS = {
    "nan-lr": (_nan_lr, r"optimizer\.param_groups\[0\]\['lr'\] is nan, expected a finite"),
    "global-step": (_schedulers_far_ahead,
                    r"param_schedulers\[0\]\['_global_step'\] is 1000000000, expected 4"),
    "iter": (_iter_past_the_end, r"meta\['iter'\] is 50, expected at most max_iters=4"),
    "best-score": (_unreachable_best, r"'best_score' is 1000000000\.0, expected a number from "
                                      r"0 to 100"),
    "huge-lr": (_huge_lr, r"\['initial_lr'\] is 1000000000\.0, expected this run's learning "
                          r"rate 0\.001"),
    "moment": (_infinite_moment, r"optimizer\['state'\]\.\d+\.exp_avg is a tensor holding 1 "
                                 r"non-finite value"),
    "weights": (_nan_weight, r"state_dict\.\S+ is a tensor holding 1 non-finite value"),
    "scheduler-param": (_foreign_scheduler_key, r"param_schedulers\[1\]\['param_name'\] is "
                                                r"'weight_decay', expected 'lr'"),
}


def _tiny_config(tiny_training, work_dir: Path):
    """The config ``tiny_training(work_dir, 'resume=auto')`` trains, and its parameters."""
    from mapsage.data.layout import find_layout
    from mapsage.models import config_for_model
    from mapsage.params import parse_assignments, validate
    from mapsage.training.config import build_config

    values, _ = parse_assignments(tiny_training.cmd(work_dir, "resume=auto")[3:])
    params = validate(values)
    layout = find_layout(params.data_root, params.dataset)
    return build_config(config_for_model(params.model), params, layout=layout), params


def test_an_unchanged_checkpoint_passes_the_vetting(finished_run, tiny_training, tmp_path):
    from mapsage.training.checkpoint.resume import select_resume

    work_dir = _copy(finished_run, tmp_path)
    cfg, params = _tiny_config(tiny_training, work_dir)
    select_resume(cfg, params)
    assert cfg.resume and cfg.load_from == str(work_dir / "iter_4.pth")


@pytest.mark.parametrize("name", sorted(POISONS))
def test_poisoned_state_is_refused_before_training(finished_run, tiny_training, tmp_path, name):
    from mapsage.training.checkpoint.resume import select_resume

    poison, message = POISONS[name]
    work_dir = _copy(finished_run, tmp_path)
    _edit(work_dir / "iter_4.pth", poison)
    cfg, params = _tiny_config(tiny_training, work_dir)
    with pytest.raises(MapSageError, match=message) as err:
        select_resume(cfg, params)
    text = str(err.value)
    assert text.startswith(f"Cannot resume from {str(work_dir / 'iter_4.pth')!r}: its ")
    assert "Move iter_4.pth out of" in text and "\n" not in text


def test_a_nan_lr_checkpoint_stops_the_real_command(finished_run, tiny_training, tmp_path):
    work_dir = _copy(finished_run, tmp_path)
    (work_dir / "iter_4.pth").unlink()
    _edit(work_dir / "iter_2.pth", _nan_lr)
    before = _files(work_dir)
    proc = tiny_training(work_dir, "resume=auto")
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert f"Cannot resume from {str(work_dir / 'iter_2.pth')!r}: its optimizer.param_groups[0]" \
           "['lr'] is nan" in proc.stderr
    assert _files(work_dir) == before, "nothing is trained or written when resume is refused"
    assert json.loads((work_dir / "metrics.json").read_text())["iterations"] == 4


def test_the_resume_guard_hook_vets_the_state_in_mmengines_own_resume(finished_run,
                                                                      tiny_training, tmp_path):
    """The saved config run by mmengine's Runner directly (as mmseg's tools/train.py --resume
    would), without mapsage.train's checks: the hook refuses before training."""
    from mmengine.runner import Runner

    import mapsage.results.hook
    import mapsage.training.plugins  # noqa: F401  (what the config's custom_imports loads)
    from mapsage.training.checkpoint.resume_state import PoisonedState
    from mapsage.training.checkpoint.safe_load import safe_checkpoint_loading

    work_dir = _copy(finished_run, tmp_path)
    (work_dir / "iter_4.pth").unlink()
    _edit(work_dir / "iter_2.pth", _schedulers_far_ahead)
    cfg, _ = _tiny_config(tiny_training, work_dir)
    cfg.resume, cfg.load_from = True, str(work_dir / "iter_2.pth")
    runner = Runner.from_cfg(cfg)
    with safe_checkpoint_loading(), pytest.raises(PoisonedState, match="_global_step"):
        runner.train()
    assert not (work_dir / "iter_4.pth").exists(), "nothing was trained"


def test_a_non_finite_loss_fails_the_run(finished_run, tiny_training, tmp_path):
    """Weights holding a NaN (here loaded with load_from, which only vets objects) make the
    first loss NaN: the run stops at once, exit 1, status failed, no checkpoint saved."""
    weights = tmp_path / "poisoned.pth"
    shutil.copy(finished_run / "iter_4.pth", weights)
    _edit(weights, _nan_weight)
    work_dir = tmp_path / "run"
    proc = tiny_training(work_dir, f"load_from={weights}")
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "training failed at iteration 1 of 4: the loss is not a number (loss = nan" \
        in proc.stderr
    metrics = json.loads((work_dir / "metrics.json").read_text())
    assert metrics["status"] == "failed" and metrics["iterations"] == 1
    assert "the loss is not a number" in metrics["error"]
    assert not list(work_dir.glob("*.pth")), "the poisoned weights were never saved"

    from mapsage.results.record import read_metrics

    with pytest.raises(MapSageError, match="records a run that failed at iteration 1"):
        read_metrics(work_dir)
