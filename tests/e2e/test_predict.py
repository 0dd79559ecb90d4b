"""``mapsage predict``: LoveDA label PNGs from a checkpoint trained here, on a Test-like folder
(images only) and on Val, where the predictions scored with mmseg's IoU functions reproduce the
run's own evaluation."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytestmark = pytest.mark.slow
ITERS = 20


def _mapsage(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "mapsage", *map(str, args)], capture_output=True,
                          text=True, timeout=600, cwd=cwd)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The tiny demo model after a few iterations on a small synthetic LoveDA tree."""
    from mapsage.data.synth import SynthSpec, generate

    base = tmp_path_factory.mktemp("predict")
    data = generate(base / "data", SynthSpec(train_per_domain=4, val_per_domain=3), progress=None)
    work_dir = base / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "mapsage.train", f"data_root={data}", f"work_dir={work_dir}",
         f"max_iters={ITERS}", f"val_interval={ITERS}", f"checkpoint_interval={ITERS}",
         "num_workers=0", "device=cpu"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return base, data, work_dir


@pytest.fixture(scope="module")
def loveda_test_split(trained):
    """LoveDA's Test layout: {Urban,Rural}/images_png, no masks; tiles of another size (96 px)."""
    from mapsage.data.synth import SynthSpec, generate

    base, _, _ = trained
    other = generate(base / "other", SynthSpec(size=96, train_per_domain=1, val_per_domain=3),
                     progress=None)
    test = base / "LoveDA" / "Test"
    for domain in ("Urban", "Rural"):
        shutil.copytree(other / "Val" / domain / "images_png", test / domain / "images_png")
    return test


def test_predict_writes_one_loveda_label_png_per_test_image(trained, loveda_test_split, tmp_path):
    _, _, work_dir = trained
    out = tmp_path / "submission"
    proc = _mapsage("predict", work_dir / f"iter_{ITERS}.pth", loveda_test_split, "--out", out,
                    "--overlays", "2")
    assert proc.returncode == 0, proc.stderr
    images = sorted(loveda_test_split.glob("*/images_png/*.png"))
    written = sorted(p for p in out.iterdir() if p.is_file())
    assert [p.name for p in written] == sorted(p.name for p in images), "named as the images"
    for image in images:
        label = Image.open(out / image.name)
        values = np.unique(np.asarray(label))
        assert label.mode == "L" and label.size == Image.open(image).size == (96, 96)
        assert values.min() >= 1 and values.max() <= 7, values
    assert len(list((out / "overlays").glob("*.png"))) == 2
    again = _mapsage("predict", work_dir / f"iter_{ITERS}.pth", loveda_test_split, "--out", out)
    assert again.returncode == 2 and "--overwrite" in again.stderr, "nothing is overwritten"


def _score(labels_dir: Path, split_dir: Path) -> float:
    """mIoU of predicted LoveDA PNGs against the split's masks, with mmseg's IoUMetric maths."""
    from mmseg.evaluation import IoUMetric

    areas = []
    for mask in sorted(split_dir.glob("*/masks_png/*.png")):
        truth = torch.from_numpy(np.asarray(Image.open(mask)).astype(np.int64)) - 1
        truth[truth < 0] = 255  # no-data (0) is ignored, as reduce_zero_label does
        pred = torch.from_numpy(np.asarray(Image.open(labels_dir / mask.name)).astype(np.int64))
        areas.append(IoUMetric.intersect_and_union(pred - 1, truth, 7, 255))
    totals = [sum(column) for column in zip(*areas, strict=True)]
    iou = IoUMetric.total_area_to_metrics(*totals, ["mIoU"])["IoU"]
    return float(np.round(np.nanmean(iou) * 100, 2))


def test_predictions_on_val_reproduce_the_evaluated_miou(trained, tmp_path):
    _, data, work_dir = trained
    metrics = json.loads((work_dir / "metrics.json").read_text())
    out = tmp_path / "val"
    proc = _mapsage("predict", work_dir / f"iter_{ITERS}.pth", data, "--split", "Val",
                    "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert _score(out, data / "Val") == pytest.approx(metrics["final"]["mIoU"], abs=0.01)


def test_missing_or_mismatched_checkpoint_is_a_clear_error(trained, loveda_test_split, tmp_path):
    _, _, work_dir = trained
    missing = _mapsage("predict", tmp_path / "nope.pth", loveda_test_split, "--out", tmp_path / "a")
    assert missing.returncode == 2 and "nope.pth" in missing.stderr
    assert "Traceback" not in missing.stderr
    wrong = _mapsage("predict", work_dir / f"iter_{ITERS}.pth", loveda_test_split, "--out",
                     tmp_path / "b", "--model", "b0")
    assert wrong.returncode == 2 and "does not fit model 'b0'" in wrong.stderr
    assert "shape mismatches" in wrong.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_the_notebooks_predict_split_runs_mapsage_predict(trained):
    from mapsage.notebook.launch import run_prediction
    from mapsage.params import validate

    _, data, work_dir = trained
    metrics = json.loads((work_dir / "metrics.json").read_text())
    params = validate({"data_root": str(data), "work_dir": str(work_dir), "device": "cpu",
                       "predict_split": "Val"})
    out = run_prediction(params, metrics)
    assert out == work_dir / "predictions-Val"
    masks = sorted(p.name for p in data.glob("Val/*/masks_png/*.png"))
    assert sorted(p.name for p in out.glob("*.png")) == masks
