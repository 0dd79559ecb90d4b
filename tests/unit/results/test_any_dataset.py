"""Issue 23: the results of a run on a data set that is not LoveDA, here 5 classes: the report
names the model's config and the data set, the pictures use its classes and palette (nothing
fixed at 7), metrics.json's ``dataset`` is read back as strictly as a dataset.yaml, and
``mapsage compare`` says when two runs' classes differ. Real matplotlib."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from PIL import Image

from mapsage.data.dataset import LOVEDA, derived_palette
from mapsage.errors import MapSageError
from mapsage.results import plots
from mapsage.results.record import read_metrics
from mapsage.results.report import compare_table, report_markdown
from mapsage.results.sources import split_name

FIVE = ["background", "roof", "tree", "road", "water"]
PALETTE = [list(c) for c in derived_palette(5)]
ROOFS = dict(name="roofs", classes=FIVE, palette=PALETTE, img_suffix=".jpg",
             seg_map_suffix=".png", reduce_zero_label=False, ignore_index=255)


def _metrics(classes=FIVE, dataset=ROOFS, model="fcn_r18-d8_4xb2-80k_cityscapes-512x1024",
             config="/x/fcn_r18-d8_4xb2-80k_cityscapes-512x1024.py") -> dict:
    per_class = {c: {"IoU": 10.0 * (i + 1), "Acc": 50.0} for i, c in enumerate(classes)}
    data = {
        "mIoU": 30.0, "aAcc": 70.0, "mAcc": 50.0, "iterations": 20, "wall_time_s": 3.5,
        "per_class_IoU": {c: v["IoU"] for c, v in per_class.items()},
        "final": {"iteration": 20, "per_class": per_class},
        "best": {"iteration": 20, "mIoU": 30.0, "checkpoint": None},
        "history": {"train": [{"iteration": 10, "loss": 1.0, "lr": 0.1}],
                    "val": [{"iteration": 20, "mIoU": 30.0}]},
        "environment": {"device": "cpu"}, "classes": list(classes), "model": model,
        "config": config,
    }
    if dataset is not None:
        data["dataset"] = copy.deepcopy(dataset)
    return data


def _share(picture: np.ndarray, colour) -> float:
    return float(np.all(picture == np.asarray(colour, np.uint8), axis=-1).mean())


def test_overlays_and_legend_use_the_five_classes_palette(tmp_path):
    image = np.full((40, 40, 3), 128, np.uint8)
    truth = np.repeat(np.arange(5, dtype=np.uint8), 8)[None].repeat(40, 0)  # 5 stripes
    truth[:4] = 255  # ignored
    pred = np.full((40, 40), 4, np.uint8)
    path = plots.prediction_overlays([("a.jpg", image, truth, pred)], FIVE, PALETTE,
                                     tmp_path / "predictions.png", source="roofs val")
    picture = np.asarray(Image.open(path).convert("RGB"))
    for colour in PALETTE:  # every class in the ground truth panel and the legend
        assert _share(picture, colour) > 0.001, colour
    assert _share(picture, PALETTE[4]) > 0.03, "the prediction panel, class 4 unblended"
    with pytest.raises(ValueError, match="5 classes but 7 palette colours"):
        plots.prediction_overlays([("a.jpg", image, truth, pred)], FIVE, LOVEDA.palette,
                                  tmp_path / "bad.png")


def test_colourise_has_no_fixed_class_count():
    many = [list(c) for c in derived_palette(12)]
    labels = np.array([[0, 11, 255, 200]], np.uint8)
    rgb = plots.colourise(labels, many)
    assert rgb[0, 0].tolist() == many[0] and rgb[0, 1].tolist() == many[11]
    assert rgb[0, 2].tolist() == list(plots.NO_DATA_COLOUR) == rgb[0, 3].tolist()
    assert plots.colourise(np.array([[7]], np.uint8), PALETTE, ignore_index=7)[0, 0].tolist() \
        == list(plots.NO_DATA_COLOUR)


@pytest.mark.parametrize("count", [3, 5, 24])
def test_confusion_matrix_takes_any_class_count(tmp_path, count):
    classes = [f"class {i}" for i in range(count)]
    path = plots.confusion_matrix(np.eye(count, dtype=int).tolist(), classes,
                                  tmp_path / "cm.png", source="val")
    assert Image.open(path).info["Description"] == "val"
    with pytest.raises(ValueError, match="confusion matrix for"):
        plots.confusion_matrix(np.eye(count + 1, dtype=int).tolist(), classes, tmp_path / "x.png")


def test_report_names_the_config_and_the_data_set():
    text = report_markdown(_metrics())
    assert text.startswith("# MapSage run: `fcn_r18-d8_4xb2-80k_cityscapes-512x1024` on roofs")
    for cls in FIVE:
        assert f"| {cls} |" in text
    old = _metrics(classes=list(LOVEDA.classes), dataset=None, model="tiny",
                   config="/m/configs/segformer_tiny_loveda-128x128.py")
    assert report_markdown(old).startswith("# MapSage run: SegFormer tiny on LoveDA")


def test_metrics_dataset_is_read_back(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps(_metrics()))
    assert read_metrics(tmp_path)[1]["dataset"]["name"] == "roofs"


@pytest.mark.parametrize("dataset, said", [
    ("roofs", "dataset is 'roofs', expected an object"),
    ({**ROOFS, "colour": 1}, "unknown key(s) 'colour'"),
    ({**ROOFS, "palette": PALETTE[:4]}, "palette has 4 colours but classes has 5"),
    ({**ROOFS, "classes": [*FIVE[:4], "river"]}, "dataset.classes is ["),
    ({k: v for k, v in ROOFS.items() if k != "name"}, "dataset.name is None"),
    ({**ROOFS, "ignore_index": True}, "ignore_index = True"),
])
def test_a_bad_dataset_in_metrics_is_named(tmp_path, dataset, said):
    data = _metrics()
    data["dataset"] = dataset
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(data))
    with pytest.raises(MapSageError) as err:
        read_metrics(path)
    assert said in str(err.value) and str(path) in str(err.value), str(err.value)


def test_compare_says_when_the_classes_differ():
    loveda = ("a", _metrics(classes=list(LOVEDA.classes), dataset=LOVEDA.as_dict()))
    roofs = ("b", _metrics())
    table = compare_table(loveda, roofs)
    first = table.splitlines()[0]
    assert "different classes" in first and "a (LoveDA) has 7 classes, b (roofs) has 5" in first
    assert "only a has building, barren, forest, agricultural" in first, "road, water: both"
    assert "only b has roof, tree" in first and "not directly comparable" in first
    assert "| road | 30.00 | 40.00 | +10.00 |" in table, "classes compared by name"
    assert "| roof | n/a | 20.00 | n/a |" in table
    same = compare_table(("a", _metrics()), ("b", _metrics()))
    assert same.startswith("| class |"), "no note when the classes are the same"
    other = compare_table(("a", _metrics()), ("b", _metrics(dataset={**ROOFS, "name": "sheds"})))
    assert "different data sets" in other.splitlines()[0]


@pytest.mark.parametrize("prefix, name", [
    ("Val/Urban/images_png", "Val"), ("img_dir/val", "val"), ("valid/images", "valid"),
    ("images/test", "test"), ("my/pictures", "my/pictures")])
def test_split_name_finds_the_split_folder_of_any_layout(tmp_path, prefix, name):
    dataset = type("D", (), {"data_prefix": {"img_path": str(tmp_path / prefix)},
                             "data_root": str(tmp_path), "__len__": lambda self: 3})()
    assert split_name(dataset) == f"{name} (3 images)"
