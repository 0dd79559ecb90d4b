"""The generated notebook, executed by papermill for real: training, outputs, load_from, errors.

Calibration (tiny SegFormer, synthetic 128 px data, demo defaults: 300 iterations, batch 8,
lr 0.002, CPU): trained mIoU measured 88-94 across seeds and data revisions; the untrained
model (same config and data, initial weights) scores 2-8 mIoU. The thresholds below, trained
mIoU >= 60 and >= untrained + 45, leave room for run-to-run noise yet fail for a model that
has not learnt.
"""

from __future__ import annotations

import json
import subprocess
import sys

import nbformat
import papermill
import pytest
from papermill.exceptions import PapermillExecutionError

from mapsage.notebook.execute import execute
from mapsage.params import validate

pytestmark = pytest.mark.slow
MIN_TRAINED_MIOU = 60.0
MIN_GAIN_OVER_UNTRAINED = 45.0


@pytest.fixture(scope="module")
def first_run(synthetic_root, tmp_path_factory):
    base = tmp_path_factory.mktemp("e2e")
    params = {"data_root": str(synthetic_root), "work_dir": str(base / "run1")}
    output = execute(parameters=params, output=base / "run1.ipynb", cwd=base, log_output=False)
    return base, params, output


def test_notebook_trains_well_above_the_untrained_baseline(first_run):
    from mapsage.training.evaluate import evaluate

    base, params, _ = first_run
    metrics = json.loads((base / "run1" / "metrics.json").read_text())
    untrained = evaluate(validate({**params, "work_dir": str(base / "untrained")}))
    print(f"trained mIoU {metrics['mIoU']:.2f} vs untrained {untrained['mIoU']:.2f}")
    assert metrics["mIoU"] >= MIN_TRAINED_MIOU
    assert metrics["mIoU"] >= untrained["mIoU"] + MIN_GAIN_OVER_UNTRAINED
    assert metrics["iterations"] == 300 and metrics["final"]["iteration"] == 300
    assert set(metrics["per_class_IoU"]) == {
        "background", "building", "road", "water", "barren", "forest", "agricultural"}
    env = metrics["environment"]
    assert env["mmcv"] == "2.1.0" and env["mmengine"] and env["mmseg"] and env["torch"]
    assert env["device"] == "cpu" and metrics["wall_time_s"] > 0


def test_run_leaves_checkpoints_pictures_and_the_executed_notebook(first_run):
    base, _, output = first_run
    work_dir = base / "run1"
    assert sorted(p.name for p in work_dir.glob("best_mIoU_iter_*.pth"))
    assert (work_dir / "iter_300.pth").is_file()
    for picture in ("training_curve.png", "predictions.png"):
        data = (work_dir / picture).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000
    nb = nbformat.read(output, as_version=4)
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    images = [o for o in outputs if o.get("output_type") == "display_data"
              and "image/png" in o.get("data", {})]
    tables = [o for o in outputs if "text/markdown" in o.get("data", {})]
    assert len(images) == 3 and tables and "| building |" in tables[0]["data"]["text/markdown"]
    streamed = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "Iter(train) [300/300]" in streamed, "the training log is streamed into the notebook"


def test_second_run_loads_the_best_checkpoint_on_new_torch_safely(first_run):
    import torch

    base, params, _ = first_run
    major, minor = (int(x) for x in torch.__version__.split(".")[:2])
    assert (major, minor) >= (2, 6), "this test is about torch's weights_only default"
    best = sorted((base / "run1").glob("best_mIoU_iter_*.pth"))[-1]
    params2 = {**params, "work_dir": str(base / "run2"), "load_from": str(best),
               "max_iters": 20, "val_interval": 20, "checkpoint_interval": 20}
    output = execute(parameters=params2, output=base / "run2.ipynb", cwd=base, log_output=False)
    log = "".join(o.get("text", "") for c in nbformat.read(output, as_version=4).cells
                  if c.cell_type == "code" for o in c.outputs)
    assert f"Load checkpoint from {best}" in log
    metrics = json.loads((base / "run2" / "metrics.json").read_text())
    assert metrics["mIoU"] >= MIN_TRAINED_MIOU, "weights were really loaded (20 iterations alone can't)"


def test_unknown_parameter_stops_the_notebook_with_a_clear_message(synthetic_root, tmp_path):
    work_dir = tmp_path / "run"
    with pytest.raises(PapermillExecutionError) as err:
        papermill.execute_notebook(
            "mapsage/notebooks/train_segformer_loveda.ipynb", str(tmp_path / "out.ipynb"),
            parameters={"data_root": str(synthetic_root), "work_dir": str(work_dir),
                        "max_iter": 5},
            kernel_name="python3", progress_bar=False)
    assert err.value.ename == "ParamError"
    assert "'max_iter' (did you mean 'max_iters'?)" in err.value.evalue
    assert not work_dir.exists(), "nothing was trained"


def test_wrong_type_stops_the_notebook_with_a_clear_message(synthetic_root, tmp_path):
    with pytest.raises(PapermillExecutionError) as err:
        papermill.execute_notebook(
            "mapsage/notebooks/train_segformer_loveda.ipynb", str(tmp_path / "out.ipynb"),
            parameters={"data_root": str(synthetic_root), "work_dir": str(tmp_path / "run"),
                        "max_iters": "many"},
            kernel_name="python3", progress_bar=False)
    assert "'max_iters' = 'many' is not an integer" in err.value.evalue


def test_cli_refuses_bad_parameters_before_starting_a_kernel(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "mapsage", "run", "-p", "batch_size", "-1", "-p", "work_dir",
         str(tmp_path / "w")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "'batch_size' = -1 is below its minimum 1" in proc.stderr
    assert not (tmp_path / "w").exists()


def test_evaluating_the_best_checkpoint_reproduces_its_miou(first_run):
    from mapsage.training.evaluate import evaluate

    base, params, _ = first_run
    metrics = json.loads((base / "run1" / "metrics.json").read_text())
    again = evaluate(validate({**params, "work_dir": str(base / "eval")}),
                     checkpoint=metrics["best"]["checkpoint"])
    assert again["mIoU"] == pytest.approx(metrics["best"]["mIoU"], abs=0.01)
