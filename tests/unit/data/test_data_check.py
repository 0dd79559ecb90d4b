"""The data and disk checks at the edges test_input_check.py leaves out: the disk refusal through
the real training entry point, and mask-value sampling in large folders vs ``--all-masks``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from mapsage.data.check import DECODE_SAMPLE, check_layout, sample_names
from mapsage.data.layout import find_loveda


def test_not_enough_disk_for_the_planned_checkpoints_is_refused(synthetic_root, tmp_path):
    work_dir = tmp_path / "w"
    # a checkpoint every iteration, all kept (mmengine's max_keep_ckpts=-1): petabytes for 1e9
    proc = subprocess.run(
        [sys.executable, "-m", "mapsage.train", f"data_root={synthetic_root}",
         f"work_dir={work_dir}", "max_iters=1000000000", "checkpoint_interval=1",
         "num_workers=0", "default_hooks.checkpoint.max_keep_ckpts=-1"],
        capture_output=True, text=True, timeout=180)  # if not refused, it would train: kill it
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "Not enough free disk for the checkpoints" in proc.stderr
    assert str(work_dir) in proc.stderr and "nothing was trained or overwritten" in proc.stderr
    assert not work_dir.exists() or not any(work_dir.rglob("*.pth"))


def _tiles(folder: Path, count: int) -> None:
    for sub in ("images_png", "masks_png"):
        (folder / sub).mkdir(parents=True)
    image, mask = np.zeros((8, 8, 3), np.uint8), np.ones((8, 8), np.uint8)
    for index in range(count):
        Image.fromarray(image).save(folder / "images_png" / f"{index:04d}.png")
        Image.fromarray(mask).save(folder / "masks_png" / f"{index:04d}.png")


def test_large_folders_sample_mask_values_and_all_masks_checks_every_one(tmp_path, repo_root):
    pairs = DECODE_SAMPLE + 50
    _tiles(tmp_path / "data/Train/Urban", pairs)
    _tiles(tmp_path / "data/Val/Urban", 1)
    # a mask the evenly spread sample skips, with a value outside 0..7
    names = [f"{index:04d}.png" for index in range(pairs)]
    skipped = min(i for i, name in enumerate(names) if name not in sample_names(names, False))
    bad = tmp_path / f"data/Train/Urban/masks_png/{skipped:04d}.png"
    Image.fromarray(np.full((8, 8), 9, np.uint8)).save(bad)
    layout = find_loveda(tmp_path / "data")

    sampled_scan = check_layout(layout, progress=None)
    assert sampled_scan.masks_decoded == DECODE_SAMPLE + 1 and sampled_scan.problems == []
    full_scan = check_layout(layout, check_all_masks=True, progress=None)
    assert full_scan.masks_decoded == pairs + 1
    assert len(full_scan.problems) == 1 and bad.name in full_scan.problems[0]

    cli = subprocess.run([sys.executable, "-m", "mapsage", "check-data", str(tmp_path / "data"),
                          "--all-masks"], capture_output=True, text=True, timeout=300,
                         cwd=repo_root)
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert "values outside those of the data set" in cli.stdout
    assert f"value 9 in Train/Urban/masks_png/{bad.name}" in cli.stdout
    assert "1 problem(s)" in cli.stdout
    sampled_cli = subprocess.run([sys.executable, "-m", "mapsage", "check-data",
                                  str(tmp_path / "data")],
                                 capture_output=True, text=True, timeout=300, cwd=repo_root)
    assert sampled_cli.returncode == 0 and "0 problem(s)" in sampled_cli.stdout


def test_a_work_dir_that_cannot_be_created_is_refused(synthetic_root, tmp_path):
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    proc = subprocess.run(
        [sys.executable, "-m", "mapsage.train", f"data_root={synthetic_root}",
         f"work_dir={tmp_path / 'notes.txt' / 'run'}", "num_workers=0"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert f"'{tmp_path / 'notes.txt'}' is a file, not a folder" in proc.stderr
    assert (tmp_path / "notes.txt").read_text() == "a file, not a folder"
