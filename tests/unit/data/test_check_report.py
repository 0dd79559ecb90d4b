"""What the data check says (issue #21): a non-PNG file among the tiles is a problem, not
passed over; a check that passes says where it found LoveDA and how many tiles each split has;
a tree that is not LoveDA's layout is described down the levels the search looked at."""

from __future__ import annotations

import shutil

import pytest

from mapsage.data.check import check_layout
from mapsage.data.layout import find_loveda
from mapsage.errors import MapSageError


@pytest.fixture()
def tree(synthetic_root, tmp_path):
    return shutil.copytree(synthetic_root, tmp_path / "LoveDA")


def test_a_jpg_among_the_images_is_a_problem(tree):
    images = tree / "Train" / "Urban" / "images_png"
    shutil.copy(next(images.glob("*.png")), images / "extra.jpg")
    (images / ".DS_Store").write_bytes(b"finder")  # hidden files are passed over
    scan = check_layout(find_loveda(tree), progress=None)
    assert len(scan.problems) == 1, scan.problems
    problem = scan.problems[0]
    assert problem.startswith(f"Train/Urban: 1 file(s) (1 .jpg) among the images in {images}, "
                              "whose img_suffix is .png: extra.jpg")
    assert "Training reads only .png images" in problem and "set img_suffix: .jpg" in problem


def test_a_passed_check_says_where_and_how_many_tiles_per_split(tree):
    said: list[str] = []
    scan = check_layout(find_loveda(tree), progress=said.append)
    assert scan.problems == []
    counts = {split: {domain: len(list((tree / split / domain / "images_png").glob("*.png")))
                      for domain in ("Urban", "Rural")} for split in ("Train", "Val")}
    assert scan.images == {split.lower(): {f"{split}/{domain}": count
                                           for domain, count in domains.items()}
                           for split, domains in counts.items()}
    line = said[-1]
    assert f"LoveDA (7 classes, built in) at {tree}:" in line
    for split, domains in counts.items():
        assert (f"{split.lower()} {sum(domains.values())} images (Train/Urban "
                .replace("Train", split) + f"{domains['Urban']}, {split}/Rural "
                f"{domains['Rural']})") in line


def test_a_wrong_layout_is_described_below_its_first_level(tmp_path):
    converted = tmp_path / "data" / "loveda"
    for folder in ("img_dir/train", "img_dir/val", "ann_dir/train", "ann_dir/val"):
        (converted / folder).mkdir(parents=True)
    for index in range(5):
        (converted / "img_dir" / "train" / f"{index}.png").write_bytes(b"")
    with pytest.raises(MapSageError) as err:
        find_loveda(tmp_path / "data")
    message = str(err.value)
    for shown in ("loveda/", "loveda/img_dir/", "loveda/ann_dir/", "loveda/img_dir/train/",
                  "(5 files in loveda/img_dir/train/)"):
        assert shown in message, message
    assert "loveda/ holds img_dir/ and ann_dir/" in message
    assert "\n" not in message
