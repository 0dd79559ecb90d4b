"""The second synthetic data set: mmseg's img_dir/ann_dir layout, JPEG images, PNG masks, 5
classes with 255 ignored, a dataset.yaml beside it; deterministic masks; only its own output is
ever replaced."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from PIL import Image

from mapsage.data.synth_folders import (
    CLASSES,
    DESCRIPTION,
    MANIFEST,
    ForeignFolder,
    generate_folders,
)
from mapsage.errors import MapSageError

SMALL = dict(size=64, train=3, val=2, test=1)


@pytest.fixture(scope="module")
def default_set(tmp_path_factory):
    return generate_folders(tmp_path_factory.mktemp("folders") / "synthetic-roofs", progress=None)


def _files(root, pattern):
    return sorted(p.relative_to(root).as_posix() for p in root.glob(pattern))


def test_layout_suffixes_and_counts(default_set):
    root = default_set
    assert sorted(p.name for p in (root / "img_dir").iterdir()) == ["test", "train", "val"]
    assert sorted(p.name for p in (root / "ann_dir").iterdir()) == ["train", "val"]
    for split, count in (("train", 24), ("val", 8), ("test", 4)):
        images = sorted(p.name for p in (root / "img_dir" / split).iterdir())
        assert len(images) == count and all(n.endswith(".jpg") for n in images)
        if split != "test":
            masks = sorted(p.name for p in (root / "ann_dir" / split).iterdir())
            assert [m.removesuffix(".png") for m in masks] == [i.removesuffix(".jpg")
                                                               for i in images]


def test_images_are_jpeg_rgb_and_masks_single_channel_png(default_set):
    image = Image.open(next((default_set / "img_dir" / "train").glob("*.jpg")))
    assert image.format == "JPEG" and image.mode == "RGB" and image.size == (128, 128)
    mask = Image.open(next((default_set / "ann_dir" / "train").glob("*.png")))
    assert mask.format == "PNG" and mask.mode == "L" and mask.size == (128, 128)


def test_mask_values_are_the_classes_and_the_ignore_index(default_set):
    values = set()
    for path in default_set.glob("ann_dir/*/*.png"):
        values |= set(np.unique(np.asarray(Image.open(path))).tolist())
    assert values == {0, 1, 2, 3, 4, 255}, "all 5 classes and some ignored pixels occur"


def test_ignored_pixels_are_bands_along_an_edge(default_set):
    banded = 0
    for path in default_set.glob("ann_dir/*/*.png"):
        ignored = np.asarray(Image.open(path)) == 255
        if ignored.any():
            banded += 1
            rows, cols = ignored.all(axis=1), ignored.all(axis=0)
            assert rows.any() or cols.any()
            assert rows[0] or rows[-1] or cols[0] or cols[-1]
    assert banded


def test_description_has_exactly_the_schema(default_set):
    described = yaml.safe_load((default_set / DESCRIPTION).read_text())
    assert list(described) == ["name", "classes", "palette", "img_suffix", "seg_map_suffix",
                               "reduce_zero_label", "ignore_index"]
    assert described["name"] == "synthetic-roofs"
    assert described["classes"] == list(CLASSES) == ["background", "roof", "tree", "water",
                                                     "road"]
    palette = described["palette"]
    assert len(palette) == 5 and len({tuple(c) for c in palette}) == 5
    assert all(len(c) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in c)
               for c in palette)
    assert described["img_suffix"] == ".jpg" and described["seg_map_suffix"] == ".png"
    assert described["reduce_zero_label"] is False and described["ignore_index"] == 255


def test_same_arguments_give_identical_masks(tmp_path):
    a = generate_folders(tmp_path / "a", **SMALL, seed=3, progress=None)
    b = generate_folders(tmp_path / "b", **SMALL, seed=3, progress=None)
    masks = _files(a, "ann_dir/*/*.png")
    assert len(masks) == 5 and masks == _files(b, "ann_dir/*/*.png")
    assert all((a / m).read_bytes() == (b / m).read_bytes() for m in masks)
    images = _files(a, "img_dir/*/*.jpg")
    assert len(images) == 6 and images == _files(b, "img_dir/*/*.jpg")
    # JPEG bytes are Pillow's encoder's: equal within one Pillow, compared as pixels here
    assert all(np.array_equal(np.asarray(Image.open(a / i)), np.asarray(Image.open(b / i)))
               for i in images)
    assert (a / DESCRIPTION).read_bytes() == (b / DESCRIPTION).read_bytes()


def test_other_seed_gives_other_masks(tmp_path):
    a = generate_folders(tmp_path / "a", **SMALL, progress=None)
    b = generate_folders(tmp_path / "b", **SMALL, seed=1, progress=None)
    name = "ann_dir/train/train_0000.png"
    assert (a / name).read_bytes() != (b / name).read_bytes()


def test_its_own_output_is_reused_then_replaced(tmp_path):
    out = tmp_path / "set"
    generate_folders(out, **SMALL, progress=None)
    said = []
    generate_folders(out, **SMALL, progress=said.append)
    assert any("reusing" in s for s in said)
    generate_folders(out, size=64, train=2, val=1, test=0, progress=None)
    assert _files(out, "img_dir/*/*") == ["img_dir/train/train_0000.jpg",
                                          "img_dir/train/train_0001.jpg",
                                          "img_dir/val/val_0000.jpg"]
    assert len(_files(out, "ann_dir/*/*")) == 3
    assert json.loads((out / MANIFEST).read_text())["train"] == 2


def test_an_interrupted_run_is_redone(tmp_path):
    out = generate_folders(tmp_path / "set", **SMALL, progress=None)
    manifest = json.loads((out / MANIFEST).read_text())
    (out / MANIFEST).write_text(json.dumps({**manifest, "complete": False}))
    (out / "ann_dir" / "val" / "val_0001.png").unlink()
    generate_folders(out, **SMALL, progress=None)
    assert (out / "ann_dir" / "val" / "val_0001.png").is_file()
    assert json.loads((out / MANIFEST).read_text())["complete"] is True


@pytest.mark.parametrize("planted", ["a file", "a foreign manifest", "a linked manifest",
                                     "the LoveDA generator's manifest"])
def test_a_foreign_folder_is_refused_and_left_alone(tmp_path, planted):
    out = tmp_path / "mine"
    out.mkdir()
    if planted == "a file":
        (out / "notes.txt").write_text("keep me")
    elif planted == "a foreign manifest":
        (out / MANIFEST).write_text(json.dumps({"generator": "someone else", "size": 64}))
    elif planted == "a linked manifest":
        real = generate_folders(tmp_path / "real", **SMALL, progress=None)
        (out / MANIFEST).symlink_to(real / MANIFEST)
    else:
        (out / "SYNTHETIC.json").write_text(json.dumps({"size": 64, "seed": 0}))
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(ForeignFolder) as refused:
        generate_folders(out, **SMALL, progress=None)
    assert isinstance(refused.value, MapSageError) and refused.value.exit_code == 2
    assert str(out) in str(refused.value)
    assert sorted(p.name for p in out.iterdir()) == before


def test_an_empty_folder_is_used(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    assert generate_folders(out, **SMALL, progress=None) == out
    assert (out / DESCRIPTION).is_file()


def test_a_link_at_a_files_name_is_replaced_not_written_through(tmp_path):
    out = generate_folders(tmp_path / "set", **SMALL, progress=None)
    victim = tmp_path / "victim"
    victim.write_text("the victim's own content\n")
    mask = out / "ann_dir" / "train" / "train_0000.png"
    mask.unlink()
    mask.symlink_to(victim)
    manifest = json.loads((out / MANIFEST).read_text())
    (out / MANIFEST).write_text(json.dumps({**manifest, "complete": False}))
    generate_folders(out, **SMALL, progress=None)
    assert victim.read_text() == "the victim's own content\n"
    assert not mask.is_symlink() and Image.open(mask).mode == "L"
