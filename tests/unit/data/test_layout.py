import shutil

import pytest

from mapsage.data.layout import find_layout, find_loveda
from mapsage.errors import MapSageError


def _make(root, splits=("Train", "Val"), domains=("Urban", "Rural")):
    for split in splits:
        for domain in domains:
            (root / split / domain / "images_png").mkdir(parents=True)
            (root / split / domain / "masks_png").mkdir(parents=True)
    return root


def test_published_layout(tmp_path):
    layout = find_loveda(_make(tmp_path / "LoveDA"))
    assert layout.root == tmp_path / "LoveDA"
    assert [(p.split, p.label) for p in layout.parts] == [
        ("train", "Train/Urban"), ("train", "Train/Rural"), ("val", "Val/Urban"),
        ("val", "Val/Rural")]
    assert layout.description.name == "LoveDA"
    assert all(p.images.name == "images_png" and p.masks.name == "masks_png"
               for p in layout.parts)


def test_root_above_the_data_set_and_doubled_split_folders(tmp_path):
    real = tmp_path / "input" / "loveda" / "LoveDA"
    _make(real / "Train", splits=("Train",))
    _make(real / "Val", splits=("Val",))
    layout = find_loveda(tmp_path / "input")
    assert layout.root == real
    assert layout.split("train")[0].images == real / "Train" / "Train" / "Urban" / "images_png"


def test_one_domain_is_enough(tmp_path):
    layout = find_loveda(_make(tmp_path, domains=("Rural",)))
    assert {p.label for p in layout.parts} == {"Train/Rural", "Val/Rural"}


def test_missing_root_says_how_to_fix(tmp_path):
    with pytest.raises(MapSageError) as err:
        find_layout(tmp_path / "nope")
    assert str(tmp_path / "nope") in str(err.value) and "synthetic" in str(err.value)


def test_wrong_layout_lists_what_was_found(tmp_path):
    (tmp_path / "img_dir" / "train").mkdir(parents=True)
    (tmp_path / "ann_dir").mkdir()
    with pytest.raises(MapSageError) as err:
        find_loveda(tmp_path)
    assert "img_dir/" in str(err.value) and "Train/{Urban,Rural}" in str(err.value)


def test_missing_val_split_is_named(tmp_path):
    with pytest.raises(MapSageError, match="no val split"):
        find_loveda(_make(tmp_path, splits=("Train",)))


def test_missing_masks_folder_is_named(tmp_path):
    root = _make(tmp_path)
    shutil.rmtree(root / "Val" / "Rural" / "masks_png")
    with pytest.raises(MapSageError, match="masks_png"):
        find_loveda(root)
