"""Issue 23: ``mapsage predict`` for a data set that is not LoveDA and a model that is not
SegFormer. The run is made here without training: a folder data set with its dataset.yaml, the
config MapSage builds for it from mmseg's own FCN config (``apply_dataset`` records the
description), saved in the work_dir as mmengine saves it, and a checkpoint of the model whose
classifier is biased to one class, so the values written are known exactly: class index +
``label_offset``, whatever the weights are."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytestmark = pytest.mark.slow

FIVE = ["background", "roof", "tree", "road", "water"]
FCN = "mmseg::fcn/fcn_r18-d8_4xb2-80k_cityscapes-512x1024.py"
GREY = 128


def _mapsage(*args):
    return subprocess.run([sys.executable, "-m", "mapsage", *map(str, args)], capture_output=True,
                          text=True, timeout=600)


def _data_set(root: Path, description: str, shape: str, img_suffix: str, count: int) -> Path:
    """A folder data set of grey 48 px images (and masks for train and val) in ``shape``:
    ``img_dir`` (img_dir/<split>, ann_dir/<split>) or ``split`` (<split>/images, <split>/masks)."""
    root.mkdir(parents=True)
    (root / "dataset.yaml").write_text(description)
    for split in ("train", "val", "test"):
        images, masks = ((root / "img_dir" / split, root / "ann_dir" / split) if shape == "img_dir"
                         else (root / split / "images", root / split / "masks"))
        images.mkdir(parents=True)
        for i in range(count):
            Image.fromarray(np.full((48, 48, 3), GREY, np.uint8)).save(
                images / f"{split}_{i}{img_suffix}", quality=100)
            if split != "test":
                masks.mkdir(parents=True, exist_ok=True)
                Image.fromarray(np.zeros((48, 48), np.uint8)).save(masks / f"{split}_{i}.png")
    return root


def _run(base: Path, data_root: Path, favoured: int) -> tuple[Path, Path]:
    """A work_dir as a run leaves it: the saved config (mmseg's FCN with the data set swapped
    in) and a checkpoint whose classifier always picks class ``favoured``."""
    from mmengine.config import Config
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules

    from mapsage.data.layout import find_layout
    from mapsage.models import config_path
    from mapsage.training.config import apply_dataset

    cfg = Config.fromfile(str(config_path(FCN, "tiny")))
    apply_dataset(cfg, find_layout(data_root))
    for step in cfg.test_pipeline:  # a CPU-sized test scale for the 48 px images
        if step["type"] == "Resize":
            step["scale"] = (64, 64)
    work_dir = base / "run"
    work_dir.mkdir()
    cfg.dump(str(work_dir / Path(cfg.filename).name))  # as Runner.dump_config names it
    register_all_modules(init_default_scope=True)
    model = MODELS.build(cfg.model)
    state = model.state_dict()
    for head in ("decode_head", "auxiliary_head"):
        state[f"{head}.conv_seg.weight"].zero_()
        state[f"{head}.conv_seg.bias"].zero_()
        state[f"{head}.conv_seg.bias"][favoured] = 10.0
    checkpoint = work_dir / "iter_1.pth"
    torch.save({"state_dict": state, "meta": {"iter": 1}}, checkpoint)
    return work_dir, checkpoint


@pytest.fixture(scope="module")
def five_classes(tmp_path_factory):
    """5 classes, 0 is a class (reduce_zero_label false), JPEG images, img_dir/ann_dir."""
    base = tmp_path_factory.mktemp("five")
    data = _data_set(base / "roofs", "name: roofs\nclasses: [" + ", ".join(FIVE) + "]\n"
                     "img_suffix: .jpg\nreduce_zero_label: false\nignore_index: 255\n",
                     "img_dir", ".jpg", 3)
    work_dir, checkpoint = _run(base, data, favoured=3)
    return data, work_dir, checkpoint


@pytest.fixture(scope="module")
def three_classes(tmp_path_factory):
    """3 classes, 0 = no data (reduce_zero_label true: classes written 1..3), train/images."""
    base = tmp_path_factory.mktemp("three")
    data = _data_set(base / "fields", "classes: [soil, crop, water]\nreduce_zero_label: true\n",
                     "split", ".png", 2)
    work_dir, checkpoint = _run(base, data, favoured=2)
    return data, work_dir, checkpoint


def _description(data: Path):
    from mapsage.data.dataset import resolve

    return resolve(None, data)


def test_a_five_class_fcn_run_predicts_its_test_split_in_its_convention(five_classes, tmp_path):
    data, work_dir, checkpoint = five_classes
    out = tmp_path / "labels"
    proc = _mapsage("predict", checkpoint, data, "--split", "test", "--out", out,
                    "--overlays", "2", "--config", next(work_dir.glob("*.py")))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "roofs classes as 0..4" in proc.stdout and "fcn_r18" in proc.stdout, proc.stdout
    images = sorted((data / "img_dir" / "test").glob("*.jpg"))
    assert sorted(p.name for p in out.glob("*.png")) == \
        sorted(p.name.replace(".jpg", ".png") for p in images), "named as the images, .png"
    for image in images:
        label = np.asarray(Image.open(out / image.name.replace(".jpg", ".png")))
        assert label.shape == (48, 48) and set(np.unique(label)) == {3}, "class 3 + offset 0"
    palette = _description(data).palette
    overlays = sorted((out / "overlays").glob("*.png"))
    assert len(overlays) == 2
    picture = np.asarray(Image.open(overlays[0]).convert("RGB")).astype(int)
    expected = np.round(GREY * 0.5 + np.asarray(palette[3]) * 0.5)
    assert np.abs(picture - expected).max() <= 2, "the data set's palette colour of class 3"


def test_reduce_zero_label_writes_class_index_plus_one(three_classes, tmp_path):
    from mapsage.training.predict import predict

    data, work_dir, checkpoint = three_classes
    saved = next(work_dir.glob("*.py"))
    result = predict(checkpoint, data / "val", tmp_path / "labels", overlays=1, progress=None,
                     config=saved)
    assert result.description.classes == ("soil", "crop", "water")
    assert result.model == "fcn_r18-d8_4xb2-80k_cityscapes-512x1024"
    assert [p.name for p in result.labels] == ["val_0.png", "val_1.png"]
    for label in result.labels:
        assert set(np.unique(np.asarray(Image.open(label)))) == {3}, "class 2 + offset 1"
    picture = np.asarray(Image.open(result.overlays[0]).convert("RGB")).astype(int)
    expected = np.round(GREY * 0.5 + np.asarray(_description(data).palette[2]) * 0.5)
    assert np.abs(picture - expected).max() <= 2
    # a data root and --split: the same; without --config, a run whose metrics.json records
    # another data set is refused, naming the config to pass (a config beside a checkpoint is
    # never executed unasked)
    again = predict(checkpoint, data, tmp_path / "again", split="val", progress=None,
                    config=saved, overlays=0)
    assert [p.name for p in again.labels] == [p.name for p in result.labels]
    import json

    from mapsage.errors import MapSageError

    (work_dir / "metrics.json").write_text(json.dumps(
        {"config": saved.name, "dataset": _description(data).as_dict()}))
    with pytest.raises(MapSageError, match=f"pass --config '{saved}'"):
        predict(checkpoint, data / "val", tmp_path / "refused", progress=None)


def test_wrong_suffix_and_missing_split_are_clear(five_classes, tmp_path):
    from mapsage.errors import MapSageError
    from mapsage.training.predict import find_images

    data, _, _ = five_classes
    description = _description(data)
    with pytest.raises(MapSageError, match=r"No images ending in \.jpg .*it holds files ending "
                                           r"in \.png"):
        find_images(data / "ann_dir" / "val", description=description)
    with pytest.raises(MapSageError, match="No nope/ split"):
        find_images(data, "nope", description)
    assert len(find_images(data, "Val", description)) == 3, "split names in any case"


def test_a_checkpoint_of_another_class_count_names_the_data_set(five_classes, three_classes,
                                                                tmp_path):
    five_data, five_dir, _ = five_classes
    _, _, three_ckpt = three_classes
    proc = _mapsage("predict", three_ckpt, five_data / "img_dir" / "test", "--out", tmp_path / "o",
                    "--config", next(five_dir.glob("*.py")))
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "5 roofs classes" in proc.stderr and "decode_head.conv_seg" in proc.stderr
    assert not (tmp_path / "o").exists()
