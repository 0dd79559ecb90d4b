"""The Kaggle first checks and input scan for a folder data set (issue #23): a dataset.yaml under
data_root, or the dataset parameter, makes the first check look for images and masks folders by
envcheck.folders' search (the one training uses) instead of LoveDA's; an input holding one is
scanned as kind "dataset", and kaggle.no-loveda no longer fires."""

from __future__ import annotations

import pytest

import envcheck
from envcheck import kaggle
from envcheck.errors import FirstChecksFailed
from mapsage.data.layout import find_layout
from tests.unit.data.folder_data import write_dataset


def first(data_root, tmp_path, **kwargs):
    (tmp_path / "working").mkdir(exist_ok=True)
    checks = kaggle.first_checks(str(data_root), input_root=tmp_path / "input",
                                 working_dir=tmp_path / "working", device="cpu",
                                 internet=lambda: (True, "test"), **kwargs)
    return checks[0]


@pytest.mark.parametrize("shape,name", [("img_dir", "img_dir/split"),
                                        ("split", "split/images")])
def test_a_described_folder_data_set_is_found_where_training_finds_it(tmp_path, shape, name):
    root = write_dataset(tmp_path / "input" / "datasets" / "alice" / "roofs", shape)
    check = first(tmp_path / "input", tmp_path, dataset=None)
    assert check.name == "data" and check.severity == "ok", check
    assert check.detail == (f"folder data set described by {root / 'dataset.yaml'}: {name} "
                            f"folders at {root} (splits train, val, test)")
    assert find_layout(tmp_path / "input").root == root  # training agrees


def test_the_dataset_parameter_names_a_description_elsewhere_or_inline(tmp_path):
    root = write_dataset(tmp_path / "input" / "roofs", "split")
    (root / "dataset.yaml").unlink()
    described = tmp_path / "roofs.yaml"
    described.write_text("classes: [a, b, c]\n")
    check = first(root, tmp_path, dataset=str(described))
    # searched from the description's folder, as training does
    assert check.severity == "ok" and f"described by {described}" in check.detail
    assert f"split/images folders at {root}" in check.detail
    assert find_layout(root, str(described)).root == root
    inline = first(root, tmp_path, dataset="{classes: [a, b, c], img_suffix: .jpg}")
    assert inline.severity == "ok" and f"split/images folders at {root}" in inline.detail
    missing = first(root, tmp_path, dataset=str(tmp_path / "nowhere.yaml"))
    assert missing.severity == "error" and "no such file" in missing.detail


def test_a_folder_data_set_without_val_or_masks_is_an_error_naming_the_source(tmp_path):
    root = write_dataset(tmp_path / "input" / "roofs", "img_dir",
                         counts={"train": 2, "test": 1})
    with pytest.raises(FirstChecksFailed) as err:
        kaggle.run_first_checks(str(tmp_path / "input"), input_root=tmp_path / "input",
                                working_dir=tmp_path, device="cpu", dataset=None,
                                loveda_source="alice/roofs", internet=lambda: (True, "test"))
    assert "it has no val split: attach the data set alice/roofs" in str(err.value)
    (root / "img_dir" / "val").mkdir()
    check = first(tmp_path / "input", tmp_path)
    assert check.severity == "error" and "the val split has no masks folder" in check.detail


def test_no_folders_for_the_description_is_an_error_with_the_shapes(tmp_path):
    (tmp_path / "input" / "roofs" / "pictures").mkdir(parents=True)
    (tmp_path / "input" / "roofs" / "dataset.yaml").write_text("classes: [a, b]\n")
    check = first(tmp_path / "input", tmp_path)
    assert check.severity == "error"
    for shape in ("train/images + train/masks", "img_dir/train + ann_dir/train"):
        assert shape in check.detail, check.detail


def test_a_description_naming_its_splits_is_left_to_training(tmp_path):
    (tmp_path / "input" / "roofs").mkdir(parents=True)
    (tmp_path / "input" / "roofs" / "dataset.yaml").write_text(
        "classes: [a, b]\nsplits:\n  train: {images: x, masks: y}\n  val: {images: z, masks: w}\n")
    check = first(tmp_path / "input", tmp_path)
    assert check.severity == "info" and "its splits name the folders" in check.detail


def test_loveda_stays_as_it_is(tmp_path):
    (tmp_path / "input").mkdir()
    check = first(tmp_path / "input", tmp_path, dataset="loveda")
    assert check.name == "loveda" and check.severity == "error"
    assert "LoveDA not found" in check.detail


def test_an_input_with_a_folder_data_set_is_scanned_as_one(tmp_path):
    write_dataset(tmp_path / "datasets" / "alice" / "roofs", "img_dir")
    bare = write_dataset(tmp_path / "bare", "split")
    (bare / "dataset.yaml").unlink()  # the folders' shape alone is enough
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "dataset.yaml").write_text("classes: [a, b]\n")
    found = {i.path.rsplit("/", 1)[-1]: i for i in kaggle.scan_inputs(tmp_path)}
    assert found["roofs"].kinds == ["dataset"]
    assert "img_dir/split folders at" in found["roofs"].detail
    assert found["bare"].kinds == ["dataset"] and found["notes"].kinds == ["dataset"]
    report = envcheck.run("kaggle", work_dir=tmp_path, kaggle_input=tmp_path)
    assert "kaggle.no-loveda" not in {f.id for f in report.findings}
