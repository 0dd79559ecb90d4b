"""A folder data set's split folders: found in each common shape (envcheck.folders, the one
search the Kaggle first checks share), or named by its description; what is missing is said."""

from __future__ import annotations

from pathlib import Path

import pytest

from envcheck import folders
from mapsage.data.layout import find_layout
from mapsage.errors import MapSageError

SHAPES = {
    "split/images": ("{s}/images", "{s}/masks"),
    "img_dir/split": ("img_dir/{s}", "ann_dir/{s}"),
    "images/split": ("images/{s}", "annotations/{s}"),
}


def make(root: Path, images: str, masks: str, splits=("train", "val", "test"),
         description="classes: [ground, roof]\n") -> Path:
    for split in splits:
        (root / images.format(s=split)).mkdir(parents=True)
        if split != "test":
            (root / masks.format(s=split)).mkdir(parents=True)
    if description is not None:
        (root / "dataset.yaml").write_text(description)
    return root


@pytest.mark.parametrize("shape", SHAPES)
def test_each_shape_is_found(tmp_path, shape):
    images, masks = SHAPES[shape]
    root = make(tmp_path / "roofs", images, masks)
    layout = find_layout(tmp_path)  # the description is found below data_root
    assert layout.root == root and layout.description.classes == ("ground", "roof")
    assert [(p.split, p.images, p.masks) for p in layout.parts] == [
        ("train", root / images.format(s="train"), root / masks.format(s="train")),
        ("val", root / images.format(s="val"), root / masks.format(s="val")),
        ("test", root / images.format(s="test"), None)]
    assert folders.splits_at(root)[0].name == shape


def test_split_folder_names_kaggle_uses_are_accepted(tmp_path):
    root = make(tmp_path, "img_dir/{s}", "ann_dir/{s}", splits=("training", "validation"))
    assert [p.split for p in find_layout(root).parts] == ["train", "val"]


def test_the_description_can_name_the_folders(tmp_path):
    for folder in ("photos/a", "photos/b", "labels/a", "labels/b"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "dataset.yaml").write_text(
        "classes: [x, y]\nsplits:\n  train: {images: photos/a, masks: labels/a}\n"
        "  val: {images: photos/b, masks: labels/b}\n")
    layout = find_layout(tmp_path)
    assert [(p.split, p.images.name, p.masks.parent.name) for p in layout.parts] == [
        ("train", "a", "labels"), ("val", "b", "labels")]
    (tmp_path / "labels" / "b").rmdir()
    with pytest.raises(MapSageError, match="splits.val.masks = 'labels/b'"):
        find_layout(tmp_path)


def test_an_inline_description_reads_a_folder_without_a_yaml(tmp_path):
    make(tmp_path, "{s}/images", "{s}/masks", description=None)
    layout = find_layout(tmp_path, "{classes: [a, b, c], img_suffix: .jpg}")
    assert layout.description.num_classes == 3 and layout.root == tmp_path


@pytest.mark.parametrize("broken, message", [
    ("no val", "has no val split"),
    ("no train masks", "has no masks folder"),
    ("nothing", "No images and masks folders"),
])
def test_what_is_missing_is_named(tmp_path, broken, message):
    if broken == "no val":
        make(tmp_path, "img_dir/{s}", "ann_dir/{s}", splits=("train",))
    elif broken == "no train masks":
        make(tmp_path, "img_dir/{s}", "ann_dir/{s}", splits=("val",))
        (tmp_path / "img_dir" / "train").mkdir()
    else:
        (tmp_path / "dataset.yaml").write_text("classes: [a, b]\n")
        (tmp_path / "pictures").mkdir()
    with pytest.raises(MapSageError, match=message) as caught:
        find_layout(tmp_path)
    if broken == "nothing":
        assert "pictures/" in str(caught.value) and "img_dir/train + ann_dir/train" in \
            str(caught.value)


def test_without_a_description_loveda_is_searched(tmp_path):
    make(tmp_path, "img_dir/{s}", "ann_dir/{s}", description=None)
    with pytest.raises(MapSageError, match="No LoveDA layout.*dataset.yaml"):
        find_layout(tmp_path)
