"""The data check's record (``.data_check.json``) is keyed by content: a forged, copied or
stale record never lets a broken tree skip the check (a crash hours into training)."""

from __future__ import annotations

import json
import os

import pytest

from mapsage.data import check_cache
from mapsage.data.layout import find_loveda
from mapsage.data.synth import SynthSpec, generate
from mapsage.errors import InputError
from mapsage.training.data_check import check_data, record


@pytest.fixture()
def layout(tmp_path):
    root = generate(tmp_path / "data", SynthSpec(size=32, train_per_domain=3, val_per_domain=2),
                    progress=None)
    return find_loveda(root)


def _forge(work_dir, key, files, smallest=(32, 32)) -> None:
    """A record as anyone who can read the tree can write it: the key computed for the tree."""
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / check_cache.RECORD).write_text(json.dumps(
        {"fingerprint": key, "files": files, "check_all": True,
         "smallest_train_image": list(smallest)}))


def test_a_forged_record_for_a_truncated_tree_does_not_skip_the_check(layout, tmp_path):
    image = layout.split("train")[0].images / "1000.png"
    image.write_bytes(image.read_bytes()[:-12])  # a cut-off copy: no IEND
    key, files = check_cache.fingerprint(layout)
    _forge(tmp_path / "w", key, files)
    with pytest.raises(InputError, match=r"1000.png \(truncated"):
        check_data(layout, tmp_path / "w", crop_size=32, progress=None)


def test_a_file_changed_under_the_same_size_and_mtime_is_checked_again(layout, tmp_path):
    work_dir = tmp_path / "w"
    record(work_dir, check_data(layout, work_dir, crop_size=32, progress=None))
    mask = layout.split("val")[0].masks / "3000.png"
    stat = mask.stat()
    data = bytearray(mask.read_bytes())
    data[-1] ^= 0xFF  # IEND's CRC damaged: same size
    mask.write_bytes(bytes(data))
    os.utime(mask, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as touch -r / cp -p leave it
    assert mask.stat().st_size == stat.st_size and mask.stat().st_mtime_ns == stat.st_mtime_ns
    with pytest.raises(InputError, match=r"3000.png \(truncated"):
        check_data(layout, work_dir, crop_size=32, progress=None)


def test_the_recorded_smallest_image_is_not_trusted(layout, tmp_path):
    work_dir = tmp_path / "w"
    record(work_dir, check_data(layout, work_dir, crop_size=32, progress=None))
    path = work_dir / check_cache.RECORD
    data = json.loads(path.read_text())
    data["smallest_train_image"] = [4096, 4096]  # would let crop_size=48 through
    path.write_text(json.dumps(data))
    lines: list[str] = []
    with pytest.raises(InputError, match="crop_size = 48 is larger than the training images"):
        check_data(layout, work_dir, crop_size=48, progress=lines.append)
    passed = check_data(layout, work_dir, crop_size=32, progress=lines.append)
    assert any("not checked again" in line for line in lines), "the record itself still counts"
    assert passed.smallest_train_image == (32, 32)
