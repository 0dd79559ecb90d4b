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


# --- issue 21: Kaggle's doubled split, progress, the server's zip, test-time options ---------


def test_a_doubled_test_split_as_kaggle_unpacks_it_is_predicted(trained, loveda_test_split,
                                                                tmp_path):
    _, _, work_dir = trained
    doubled = tmp_path / "kaggle" / "Test"
    shutil.copytree(loveda_test_split, doubled / "Test")  # Test/Test/{Urban,Rural}/images_png
    out = tmp_path / "labels"
    proc = _mapsage("predict", work_dir / f"iter_{ITERS}.pth", doubled, "--out", out,
                    "--overlays", "0")
    assert proc.returncode == 0, proc.stderr
    images = sorted(p.name for p in loveda_test_split.glob("*/images_png/*.png"))
    assert sorted(p.name for p in out.glob("*.png")) == images


def test_zip_holds_the_label_pngs_flat_and_progress_is_reported(trained, loveda_test_split,
                                                                tmp_path):
    import zipfile

    _, _, work_dir = trained
    out = tmp_path / "labels"
    proc = _mapsage("predict", work_dir / f"iter_{ITERS}.pth", loveda_test_split, "--out", out,
                    "--overlays", "0", "--zip", "--progress-every", "2")
    assert proc.returncode == 0, proc.stderr
    images = sorted(p.name for p in loveda_test_split.glob("*/images_png/*.png"))
    with zipfile.ZipFile(out / "submission.zip") as archive:
        assert sorted(archive.namelist()) == images, "flat, named as the images"
        for name in images:
            assert archive.read(name) == (out / name).read_bytes()
    lines = [line for line in proc.stdout.splitlines() if " images, " in line]
    assert [line.split(" images, ")[0].rsplit(" ", 1)[1] for line in lines] == \
        [f"{n}/{len(images)}" for n in range(2, len(images) + 1, 2)], proc.stdout
    assert all("images/s, ETA " in line for line in lines)
    again = _mapsage("predict", work_dir / f"iter_{ITERS}.pth", loveda_test_split, "--out", out,
                     "--overlays", "0", "--zip")
    assert again.returncode == 2 and "--overwrite" in again.stderr


def _labels(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))}


def test_slide_mode_sets_the_models_test_cfg_and_one_full_window_equals_whole(
        trained, loveda_test_split, tmp_path):
    from mapsage.training.predict import load_model
    from mapsage.training.predict_options import check_options

    _, _, work_dir = trained
    checkpoint = work_dir / f"iter_{ITERS}.pth"
    segmentor, _ = load_model(checkpoint, options=check_options("slide", "32", "16,24"))
    assert dict(segmentor.test_cfg) == {"mode": "slide", "crop_size": (32, 32),
                                        "stride": (16, 24)}
    default, _ = load_model(checkpoint, options=check_options("slide"))
    assert dict(default.test_cfg) == {"mode": "slide", "crop_size": (128, 128),
                                      "stride": (85, 85)}, "the training crop, 2/3 stride"
    runs = {}
    for name, extra in (("whole", ()), ("one", ("--crop-size", "128", "--stride", "128")),
                        ("small", ("--crop-size", "32", "--stride", "16"))):
        mode = () if name == "whole" else ("--mode", "slide")
        proc = _mapsage("predict", checkpoint, loveda_test_split, "--out", tmp_path / name,
                        "--overlays", "0", *mode, *extra)
        assert proc.returncode == 0, proc.stderr
        runs[name] = _labels(tmp_path / name)
    # the 96 px tiles are resized to the 128 px test scale: one 128 window is the whole image
    for name, labels in runs["whole"].items():
        assert (runs["one"][name] == labels).mean() > 0.999
        assert runs["small"][name].shape == labels.shape
        assert runs["small"][name].min() >= 1 and runs["small"][name].max() <= 7


def _softmax_average(segmentor, image: Path, scales, flip: bool) -> np.ndarray:
    """The TTA prediction computed here, independently of mmseg's TestTimeAug: mmseg's
    inference_model at each test scale, on the image and its mirror (logits mirrored back),
    softmax averaged."""
    import copy

    import mmcv
    from mmseg.apis import inference_model

    bgr = mmcv.imread(str(image))
    base = copy.deepcopy(segmentor.cfg.test_pipeline)
    total = 0
    for r in scales:
        pipeline = copy.deepcopy(base)
        for step in pipeline:
            if step["type"] == "Resize":
                step["scale"] = tuple(round(s * r) for s in step["scale"])
        segmentor.cfg.test_pipeline = pipeline
        total = total + inference_model(segmentor, bgr).seg_logits.data.softmax(0)
        if flip:
            segmentor.cfg.test_pipeline = copy.deepcopy(pipeline)
            mirrored = inference_model(segmentor, np.ascontiguousarray(bgr[:, ::-1]))
            total = total + mirrored.seg_logits.data.softmax(0).flip(2)
    segmentor.cfg.test_pipeline = base
    return total.argmax(0).numpy()


@pytest.mark.parametrize("extra, scales, flip", [
    (("--flip",), (1.0,), True),
    (("--scales", "0.75,1.0,1.25"), (0.75, 1.0, 1.25), False),
])
def test_flip_and_scales_average_the_softmax_over_the_augmented_inputs(
        trained, loveda_test_split, tmp_path, extra, scales, flip):
    from mapsage.training.predict import load_model

    _, _, work_dir = trained
    checkpoint = work_dir / f"iter_{ITERS}.pth"
    out = tmp_path / "tta"
    proc = _mapsage("predict", checkpoint, loveda_test_split, "--out", out, "--overlays", "0",
                    *extra)
    assert proc.returncode == 0, proc.stderr
    segmentor, _ = load_model(checkpoint)
    labels = _labels(out)
    for image in sorted(loveda_test_split.glob("*/images_png/*.png")):
        expected = _softmax_average(segmentor, image, scales, flip) + 1
        assert (labels[image.name] == expected).mean() > 0.999, image.name


@pytest.mark.parametrize("args, said", [
    (("--mode", "tile"), "--mode 'tile'"),
    (("--mode", "slide", "--crop-size", "0"), "--crop-size '0'"),
    (("--mode", "slide", "--crop-size", "32", "--stride", "64"), "larger than --crop-size"),
    (("--stride", "16"), "only --mode slide uses"),
    (("--scales", "0.75,abc"), "--scales '0.75,abc'"),
    (("--scales", "1,1"), "--scales '1,1'"),
    (("--progress-every", "0"), "--progress-every 0"),
])
def test_bad_test_time_options_are_one_paragraph_before_the_model_loads(tmp_path, args, said,
                                                                      loveda_test_split):
    proc = _mapsage("predict", tmp_path / "absent.pth", loveda_test_split,
                    "--out", tmp_path / "o", *args)
    assert proc.returncode == 2 and said in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "absent.pth" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
