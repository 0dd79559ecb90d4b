"""The data check on a folder data set that is not LoveDA (issue #23): JPEG images with PNG masks
in the img_dir/ann_dir and <split>/images+masks shapes, described by a dataset.yaml. Every rule
reads the description: pairs by stem and suffix, other suffixes named with the fix, sizes, single
channel masks, mask values within the classes and the ignore index; a test split needs no
masks. A refused data set lists every problem in one message; the check's record is keyed by the
description too."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageFile

from mapsage.data import check_cache
from mapsage.data.check import check_layout
from mapsage.data.layout import find_layout
from mapsage.errors import InputError
from mapsage.training.data_check import check_data, record
from tests.unit.data.folder_data import folders, write_dataset


@pytest.mark.parametrize("shape", ["img_dir", "split"])
def test_a_good_folder_data_set_passes_and_says_what_it_found(tmp_path, shape):
    root = write_dataset(tmp_path / "roofs", shape)
    layout = find_layout(root)
    assert layout.description.name == "roofs" and layout.description.num_classes == 3
    assert sorted(p.split for p in layout.parts) == ["test", "train", "val"]
    assert layout.split("test")[0].masks is None
    said: list[str] = []
    scan = check_layout(layout, progress=said.append)
    assert scan.problems == []
    assert {role: sum(parts.values()) for role, parts in scan.images.items()} == {
        "train": 3, "val": 2, "test": 2}
    assert scan.files == 3 * 2 + 2 * 2 + 2  # the test images have no masks
    assert scan.smallest_train_image == (16, 16)
    assert f"roofs (3 classes, Data set description '{root / 'dataset.yaml'}') at {root}" \
        in said[-1]
    assert "train 3 images, val 2 images, test 2 images" in said[-1]


def test_every_problem_is_refused_in_one_message(tmp_path):
    root = write_dataset(tmp_path / "roofs", "img_dir")
    images, masks = folders(root, "img_dir", "train")
    bad = np.zeros((16, 16), np.uint8)
    bad[3, 3] = 7
    Image.fromarray(bad).save(masks / "train_0.png")  # a value no class has
    (masks / "train_1.png").unlink()  # an image without its mask
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(images / "extra.png")  # other suffix
    val_images, val_masks = folders(root, "img_dir", "val")
    Image.fromarray(np.ones((16, 16, 3), np.uint8)).save(val_masks / "val_0.png")  # RGB mask
    layout = find_layout(root)
    with pytest.raises(InputError) as err:
        check_data(layout, tmp_path / "w", crop_size=16, progress=None)
    message = str(err.value)
    assert "(4 problem(s)); nothing was trained" in message, message
    assert ("value 7 in ann_dir/train/train_0.png, but roofs allows 0..2 (the 3 classes) and "
            "255 (ignore_index); fix the masks or the classes list") in message
    assert f"train (img_dir/train): 1 image(s) without a mask in {masks}: train_1.jpg" \
        in message
    assert (f"1 file(s) (1 .png) among the images in {images}, whose img_suffix is .jpg: "
            "extra.png") in message and "set img_suffix: .png in dataset.yaml" in message
    assert "val (img_dir/val): 1 mask(s) with more than one channel" in message
    assert "val_0.png (RGB, 3 channels)" in message
    assert not (tmp_path / "w").exists()


def test_images_of_another_suffix_than_described_are_named_once_with_the_fix(tmp_path):
    root = write_dataset(tmp_path / "roofs", "split", description="classes: [a, b, c]\n")
    layout = find_layout(root)  # img_suffix: the default .png, but the images are JPEGs
    scan = check_layout(layout, progress=None)
    train = [p for p in scan.problems if p.startswith("train")]
    assert len(train) == 1, scan.problems  # not also "3 masks without an image"
    assert "3 file(s) (3 .jpg) among the images" in train[0]
    assert "whose img_suffix is .png" in train[0] and "set img_suffix: .jpg" in train[0]


def test_a_truncated_jpeg_is_found_and_sizes_are_compared(tmp_path):
    root = write_dataset(tmp_path / "roofs", "split")
    images, masks = folders(root, "split", "train")
    data = (images / "train_0.jpg").read_bytes()
    (images / "train_0.jpg").write_bytes(data[:len(data) // 2])
    Image.fromarray(np.zeros((8, 16), np.uint8)).save(masks / "train_2.png")
    scan = check_layout(find_layout(root), progress=None)
    assert len(scan.problems) == 2, scan.problems
    assert "unreadable or truncated file(s)" in scan.problems[0]
    assert "train_0.jpg" in scan.problems[0]
    assert "train_2.jpg and train_2.png (image 16x16, mask 16x8)" in scan.problems[1]


def test_the_header_pass_decodes_no_jpeg(tmp_path, monkeypatch):
    """The cost stays flat: without the decode sample, no pixel of any file is decoded (JPEG
    headers by PIL's lazy open, PNG headers by their 45 bytes)."""
    root = write_dataset(tmp_path / "roofs", "img_dir", counts={"train": 30, "val": 5},
                         size=256)
    loads = []
    original = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load",
                        lambda self: loads.append(self.filename) or original(self))
    layout = find_layout(root)
    headers = check_layout(layout, progress=None, decode=False)
    assert headers.problems == [] and headers.files == 70 and loads == []
    check_layout(layout, progress=None)
    assert len(loads) == 70  # the decoded sample: every image, and every mask for its values


def test_the_record_is_keyed_by_the_description(tmp_path):
    root = write_dataset(tmp_path / "roofs", "img_dir")
    layout = find_layout(root)
    key, _ = check_cache.fingerprint(layout)
    assert check_cache.fingerprint(layout)[0] == key
    more = dataclasses.replace(layout.description,
                               classes=(*layout.description.classes, "road"),
                               palette=(*layout.description.palette, (1, 2, 3)))
    other = dataclasses.replace(layout, description=more)
    assert check_cache.fingerprint(other)[0] != key
    ignore = dataclasses.replace(layout.description, ignore_index=250)
    assert check_cache.fingerprint(dataclasses.replace(layout, description=ignore))[0] != key

    work_dir = tmp_path / "w"
    record(work_dir, check_data(layout, work_dir, crop_size=16, progress=None))
    said: list[str] = []
    check_data(other, work_dir, crop_size=16, progress=said.append)
    assert any("file headers read" in line for line in said), said  # checked again


def test_check_data_command_takes_the_description(tmp_path, repo_root):
    root = write_dataset(tmp_path / "roofs", "split", description="classes: [a, b]\n")
    described = tmp_path / "roofs.yaml"
    described.write_text("name: roofs\nclasses: [background, roof, tree]\nimg_suffix: .jpg\n")
    proc = subprocess.run([sys.executable, "-m", "mapsage", "check-data", str(root),
                           "--dataset", str(described)], capture_output=True, text=True,
                          timeout=300, cwd=repo_root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (f"0 problem(s): found roofs (3 classes, Data set description '{described}') at "
            f"{root}: train 3 images, val 2 images, test 2 images") in proc.stdout


def test_binary_masks_saved_as_0_and_255_are_named(tmp_path):
    """A common Kaggle shape: the object is 255 in the masks, which is also the ignore index:
    training would never see an object pixel."""
    root = write_dataset(tmp_path / "roofs", "split", counts={"train": 2, "val": 1},
                         description="classes: [background, roof]\nimg_suffix: .jpg\n")
    for split in ("train", "val"):
        for mask in folders(root, "split", split)[1].glob("*.png"):
            binary = np.zeros((16, 16), np.uint8)
            binary[4:9, 4:9] = 255
            Image.fromarray(binary).save(mask)
    scan = check_layout(find_layout(root), progress=None)
    assert len(scan.problems) == 1, scan.problems
    assert "the train masks decoded hold only 0, 255" in scan.problems[0]
    assert "map it to the class's value in the masks (e.g. 255 -> 1)" in scan.problems[0]


@pytest.mark.parametrize("damage, said", [
    ("unknown key", "unknown key(s) 'clases' (did you mean 'classes'?)"),
    ("value", "value 7 in ann_dir/train/train_0.png"),
    ("no mask", "1 image(s) without a mask"),
    ("suffix", "set img_suffix: .jpg in dataset.yaml"),
])
def test_training_refuses_a_bad_description_or_data_with_exit_2(tmp_path, damage, said):
    root = write_dataset(tmp_path / "roofs", "img_dir")
    images, masks = folders(root, "img_dir", "train")
    if damage == "unknown key":
        (root / "dataset.yaml").write_text("clases: [background, roof, tree]\n")
    elif damage == "value":
        bad = np.zeros((16, 16), np.uint8)
        bad[2, 2] = 7
        Image.fromarray(bad).save(masks / "train_0.png")
    elif damage == "no mask":
        (masks / "train_1.png").unlink()
    else:
        (root / "dataset.yaml").write_text("classes: [background, roof, tree]\n")  # .png images
    proc = subprocess.run([sys.executable, "-m", "mapsage.train", f"data_root={root}",
                           "config=fcn_tiny-128x128.py", f"work_dir={tmp_path / 'w'}"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and said in proc.stderr, proc.stderr[-2000:]
    assert not (tmp_path / "w").exists() or not any((tmp_path / "w").iterdir())
