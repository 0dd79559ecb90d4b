"""Bad inputs are refused before training, each with a message that names the problem, and nothing
is trained or overwritten. These run the real `python -m mapsage.train` entry point."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mapsage.data.check import check_disk, checkpoint_bytes
from mapsage.data.synth import SynthSpec, generate

SMALL = SynthSpec(size=64, train_per_domain=3, val_per_domain=2)


@pytest.fixture()
def data(tmp_path) -> Path:
    return generate(tmp_path / "data", SMALL, progress=None)


def train(data_root, work_dir, *extra) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mapsage.train", f"data_root={data_root}", f"work_dir={work_dir}",
         "max_iters=2", "val_interval=2", "checkpoint_interval=2", "num_workers=0",
         f"crop_size={SMALL.size}", *extra],
        capture_output=True, text=True, timeout=600)


def refused(proc, *needles) -> str:
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr
    return proc.stderr


def nothing_trained(work_dir: Path) -> None:
    assert not list(work_dir.glob("**/*.pth")) and not (work_dir / "metrics.json").exists()


def test_missing_data_root(tmp_path):
    refused(train(tmp_path / "nowhere", tmp_path / "w"), "does not exist", str(tmp_path / "nowhere"))
    nothing_trained(tmp_path / "w")


def test_no_loveda_layout_says_what_was_found(tmp_path):
    (tmp_path / "d" / "img_dir").mkdir(parents=True)
    refused(train(tmp_path / "d", tmp_path / "w"), "No LoveDA layout", "img_dir/")
    nothing_trained(tmp_path / "w")


def test_images_without_masks_and_masks_without_images(data, tmp_path):
    (data / "Train/Urban/masks_png/1000.png").unlink()
    shutil.copy(data / "Val/Rural/masks_png/4000.png", data / "Val/Rural/masks_png/4999.png")
    err = refused(train(data, tmp_path / "w"), "1 image(s) without a mask", "1000.png",
                  "1 mask(s) without an image", "4999.png")
    assert "nothing was trained or overwritten" in err
    nothing_trained(tmp_path / "w")


def test_truncated_png(data, tmp_path):
    path = data / "Train/Rural/images_png/2001.png"
    path.write_bytes(path.read_bytes()[:300])
    refused(train(data, tmp_path / "w"), "unreadable or truncated file", "2001.png")
    nothing_trained(tmp_path / "w")


def test_mask_values_outside_0_to_7(data, tmp_path):
    path = data / "Val/Urban/masks_png/3001.png"
    mask = np.asarray(Image.open(path)).copy()
    mask[:4, :4] = 12
    Image.fromarray(mask).save(path)
    refused(train(data, tmp_path / "w"), "values outside those of the data set",
            "value 12 in Val/Urban/masks_png/3001.png",
            "LoveDA allows 0 (no data), 1..7 (the 7 classes) and 255 (ignore_index)")
    nothing_trained(tmp_path / "w")


def test_image_mask_size_mismatch(data, tmp_path):
    path = data / "Train/Urban/masks_png/1002.png"
    Image.fromarray(np.ones((32, 64), np.uint8)).save(path)
    refused(train(data, tmp_path / "w"), "different sizes", "1002.png", "mask 64x32")
    nothing_trained(tmp_path / "w")


def test_empty_split(data, tmp_path):
    for domain in ("Urban", "Rural"):
        for folder in ("images_png", "masks_png"):
            for png in (data / "Val" / domain / folder).glob("*.png"):
                png.unlink()
    refused(train(data, tmp_path / "w"), "Val/Urban is empty", "Val/Rural is empty")
    nothing_trained(tmp_path / "w")


@pytest.mark.parametrize(("argument", "needle"), [
    ("model=b9", "'model' = 'b9' is not one of"),
    ("max_iters=ten", "'max_iters' = 'ten' is not an integer"),
    ("batch_size=0", "below its minimum 1"),
    ("max_iter=5", "did you mean 'max_iters'"),
])
def test_invalid_parameters(data, tmp_path, argument, needle):
    refused(train(data, tmp_path / "w", argument), needle)
    nothing_trained(tmp_path / "w")


def test_not_enough_disk_is_named(tmp_path):
    message = check_disk(tmp_path / "w", needed=10 ** 18)
    assert "Not enough free disk" in message and str(tmp_path / "w") in message
    assert check_disk(tmp_path / "w", needed=1) is None
    assert checkpoint_bytes(1_000_000, kept=5) == int(1_000_000 * 12 * 1.1) * 5


def test_an_earlier_run_is_not_overwritten(data, tmp_path):
    work_dir = tmp_path / "w"
    work_dir.mkdir()
    (work_dir / "iter_100.pth").write_bytes(b"precious")
    refused(train(data, work_dir), "already holds checkpoints", "iter_100.pth", "resume=auto")
    assert (work_dir / "iter_100.pth").read_bytes() == b"precious"


def test_debug_shows_the_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mapsage.train", "--debug",
                           f"data_root={tmp_path / 'nowhere'}"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_rgb_mask_with_class_values_is_refused(data, tmp_path):
    path = data / "Train/Urban/masks_png/1001.png"
    mask = np.asarray(Image.open(path))
    Image.fromarray(np.stack([mask] * 3, axis=-1)).save(path)  # values still within 0..7
    refused(train(data, tmp_path / "w"), "more than one channel", "1001.png (RGB, 3 channels)")
    assert not (tmp_path / "w").exists()


def test_decompression_bomb_is_refused_before_decoding(data, tmp_path, bomb_png):
    bomb_png(data / "Train/Rural/images_png/2001.png", 13_500)  # 182 million pixels, ~30 kB
    refused(train(data, tmp_path / "w"), "decompression-bomb limit", "2001.png (13500x13500")
    assert not (tmp_path / "w").exists()


def test_crop_larger_than_the_images_is_refused(data, tmp_path):
    refused(train(data, tmp_path / "w", "crop_size=96"),
            "crop_size = 96 is larger than the training images", "64x64")
    assert not (tmp_path / "w").exists()

