"""The data set description (mapsage.data.dataset): read strictly, every bad value refused with
its name and the fix before anything else runs; LoveDA is one instance of it."""

from __future__ import annotations

import pytest

from mapsage.data.dataset import (
    LOVEDA,
    Description,
    derived_palette,
    read_file,
    read_inline,
    resolve,
)
from mapsage.errors import InputError


def test_a_minimal_description_gets_the_defaults_and_a_palette():
    d = read_inline("{classes: [background, roof, tree]}")
    assert d.classes == ("background", "roof", "tree")
    assert d.palette == derived_palette(3)
    assert (d.img_suffix, d.seg_map_suffix, d.reduce_zero_label, d.ignore_index) == \
        (".png", ".png", False, 255)
    assert d.mask_values == {0, 1, 2, 255}
    assert d.label_offset == 0


def test_loveda_is_one_description_with_zero_as_no_data():
    from mmseg.datasets import LoveDADataset

    assert LOVEDA.metainfo() == {"classes": list(LoveDADataset.METAINFO["classes"]),
                                 "palette": [list(c) for c in LoveDADataset.METAINFO["palette"]]}
    assert LOVEDA.mask_values == set(range(8)) | {255}
    assert LOVEDA.label_offset == 1


def test_derived_palettes_are_distinct_and_stable():
    for count in (2, 5, 19, 150):
        colours = derived_palette(count)
        assert len(colours) == count == len(set(colours))
        assert colours == derived_palette(count)
        assert all(0 <= v <= 255 for c in colours for v in c)


@pytest.mark.parametrize("text, named", [
    ("{classes: [a]}", "classes has 1 name"),
    ("{classes: [a, a]}", "'a'"),
    ("{classes: a}", "classes = 'a'"),
    ("{clases: [a, b]}", "did you mean 'classes'"),
    ("{name: x}", "has no classes"),
    ("{classes: [a, b], palette: [[1, 2, 3]]}", "palette has 1 colours but classes has 2"),
    ("{classes: [a, b], palette: [[1, 2, 300], [0, 0, 0]]}", "palette ="),
    ("{classes: [a, b], img_suffix: jpg}", "img_suffix = 'jpg'"),
    ("{classes: [a, b], seg_map_suffix: ../x.png}", "seg_map_suffix"),
    ("{classes: [a, b], reduce_zero_label: maybe}", "reduce_zero_label = 'maybe'"),
    ("{classes: [a, b], ignore_index: 1}", "ignore_index = 1 is one of the class values"),
    ("{classes: [a, b], ignore_index: 300}", "ignore_index = 300"),
    ("{classes: [a, b], reduce_zero_label: true, ignore_index: 250}", "only 255 works"),
    ("{classes: [a, b], splits: {train: {images: /abs, masks: m}}}", "splits.train.images"),
    ("{classes: [a, b], splits: {train: {images: ../up, masks: m}}}", "without '..'"),
    ("{classes: [a, b], splits: {train: {images: i, masks: m}}}", "no val"),
    ("{classes: [a, b], splits: {training: {images: i}}}", "training"),
    ("{classes: [a, b], splits: {train: {images: i, masks: m, extra: x}, "
     "val: {images: i, masks: m}}}", "splits.train"),
    ("{classes: [a, b]", "not valid YAML"),
    ("[a, b]", "not a mapping"),
    ("{classes: [a, b], classes: [c, d]}", "twice"),
])
def test_a_bad_description_is_refused_naming_the_value(text, named):
    with pytest.raises(InputError) as caught:
        read_inline(text)
    assert named in str(caught.value)


def test_a_description_file_is_read_and_its_splits_are_relative_to_it(tmp_path):
    (tmp_path / "dataset.yaml").write_text(
        "name: roofs\nclasses: [background, roof]\nimg_suffix: .jpg\n"
        "splits:\n  train: {images: a/train, masks: b/train}\n"
        "  val: {images: a/val, masks: b/val}\n  test: {images: a/test}\n")
    d = read_file(tmp_path / "dataset.yaml")
    assert d.name == "roofs" and d.base == tmp_path and d.img_suffix == ".jpg"
    assert d.splits["test"].masks is None and d.splits["train"].masks == "b/train"
    assert Description(**{**vars(d)}) == d  # a plain value: compared by content
    assert d.as_dict()["splits"]["test"] == {"images": "a/test"}


def test_a_huge_or_unreadable_description_is_refused(tmp_path):
    big = tmp_path / "dataset.yaml"
    big.write_text("classes: [a, b]\n" + "#" * 70000)
    with pytest.raises(InputError, match="is 7\\d+ bytes"):
        read_file(big)
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\xff\xfe\x00classes")
    with pytest.raises(InputError, match="cannot be read"):
        read_file(binary)


def test_resolve_picks_the_description(tmp_path):
    assert resolve(None, tmp_path) is LOVEDA
    assert resolve("loveda", tmp_path) is LOVEDA
    assert resolve(" {classes: [x, y]}", tmp_path).classes == ("x", "y")
    nested = tmp_path / "datasets" / "alice" / "roofs"
    nested.mkdir(parents=True)
    (nested / "dataset.yaml").write_text("classes: [ground, roof]\n")
    found = resolve("auto", tmp_path)  # Kaggle: data_root=/kaggle/input, the yaml deeper down
    assert found.classes == ("ground", "roof") and found.base == nested
    assert resolve(str(nested / "dataset.yaml"), "/elsewhere").base == nested
    with pytest.raises(InputError, match="no such file"):
        resolve(str(tmp_path / "missing.yaml"), tmp_path)
