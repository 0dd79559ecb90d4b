"""A training run checks its data once: in rank 0 only, and not again while nothing changed."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mapsage.data import check_cache
from mapsage.data.layout import find_loveda
from mapsage.data.synth import SynthSpec, generate
from mapsage.errors import InputError
from mapsage.training.data_check import check_data, checks_data, record


@pytest.fixture()
def layout(tmp_path):
    root = generate(tmp_path / "data", SynthSpec(size=32, train_per_domain=3, val_per_domain=2),
                    progress=None)
    return find_loveda(root)


def run_check(layout, work_dir: Path, **kwargs) -> list[str]:
    """check_data + record as the preflight calls them; the progress lines it printed."""
    lines: list[str] = []
    kwargs.setdefault("crop_size", 32)
    record(work_dir, check_data(layout, work_dir, progress=lines.append, **kwargs))
    return lines


def checked(lines: list[str]) -> bool:
    return any("file headers read" in line for line in lines)


def reused(lines: list[str]) -> bool:
    return any("not checked again" in line for line in lines)


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, True),
    ({"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}, True),
    ({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}, False),
    ({"RANK": "2", "WORLD_SIZE": "4", "LOCAL_RANK": "0"}, False),  # rank 0 of a second node
])
def test_only_global_rank_0_checks(environ, expected, monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert checks_data() is expected


def test_other_ranks_do_not_read_the_data(layout, tmp_path, monkeypatch):
    bad = layout.split("train")[0].masks / "1000.png"
    Image.fromarray(np.full((32, 32), 9, np.uint8)).save(bad)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert check_data(layout, tmp_path / "w", crop_size=32, progress=None) is None
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(InputError, match="value 9 in Train/Urban/masks_png/1000.png"):
        check_data(layout, tmp_path / "w", crop_size=32, progress=None)
    assert not (tmp_path / "w").exists(), "a refused check writes nothing"


def test_a_passed_check_is_reused_only_while_nothing_changed(layout, tmp_path):
    work_dir = tmp_path / "w"
    assert checked(run_check(layout, work_dir))
    assert (work_dir / check_cache.RECORD).is_file()
    assert reused(run_check(layout, work_dir))

    mask = layout.split("val")[0].masks / "3000.png"
    stat = mask.stat()
    os.utime(mask, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # touch one mask
    again = run_check(layout, work_dir)
    assert checked(again) and not reused(again)
    assert reused(run_check(layout, work_dir))

    Image.fromarray(np.full((32, 32), 12, np.uint8)).save(mask)  # changed and now wrong
    with pytest.raises(InputError, match=r"value 12 in Val/\w+/masks_png/3000.png"):
        run_check(layout, work_dir)


def test_a_sample_record_does_not_stand_in_for_all_masks(layout, tmp_path):
    work_dir = tmp_path / "w"
    run_check(layout, work_dir)
    assert checked(run_check(layout, work_dir, check_all=True))
    assert reused(run_check(layout, work_dir, check_all=True))
    assert reused(run_check(layout, work_dir))  # a full check covers a sample one


def test_a_new_file_or_a_damaged_record_means_checking_again(layout, tmp_path):
    work_dir = tmp_path / "w"
    run_check(layout, work_dir)
    domain = layout.split("train")[0]
    for folder in (domain.images, domain.masks):
        (folder / "1999.png").write_bytes((folder / "1000.png").read_bytes())
    assert checked(run_check(layout, work_dir))
    (work_dir / check_cache.RECORD).write_text('{"fingerprint": ')
    assert checked(run_check(layout, work_dir))
    (work_dir / check_cache.RECORD).write_text('{"fingerprint": "x", "check_all": "yes"}')
    assert checked(run_check(layout, work_dir))


def test_a_reused_check_still_refuses_a_crop_larger_than_the_images(layout, tmp_path):
    work_dir = tmp_path / "w"
    run_check(layout, work_dir)
    with pytest.raises(InputError, match="crop_size = 48 is larger than the training images"):
        run_check(layout, work_dir, crop_size=48)
