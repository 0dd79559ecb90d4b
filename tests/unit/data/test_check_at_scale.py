"""The data check whose cost does not grow with decoding every file: headers of every file, a
decoded sample, ``--all-masks`` for everything, the refusals that need only a header (RGB masks,
decompression bombs), and the LoveDA-size synthetic tree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mapsage.data.check import DECODE_SAMPLE, check_layout, crop_problem, sample_names
from mapsage.data.layout import find_loveda
from mapsage.data.png import PNGHeaderError, read_header
from mapsage.data.synth import LOVEDA_FILES, SynthSpec, generate


def tiles(root: Path, split: str, count: int, size: int = 8) -> Path:
    folder = root / split / "Urban"
    for sub in ("images_png", "masks_png"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    image, mask = np.zeros((size, size, 3), np.uint8), np.ones((size, size), np.uint8)
    for index in range(count):
        Image.fromarray(image).save(folder / "images_png" / f"{index:04d}.png")
        Image.fromarray(mask).save(folder / "masks_png" / f"{index:04d}.png")
    return folder


def large_tree(root: Path) -> tuple[Path, int]:
    """A Train folder larger than the decode sample, and the index of a pair it skips."""
    pairs = DECODE_SAMPLE + 40
    folder = tiles(root, "Train", pairs)
    tiles(root, "Val", 1)
    names = [f"{i:04d}.png" for i in range(pairs)]
    skipped = min(i for i, n in enumerate(names) if n not in sample_names(names, False))
    return folder, skipped


def damage_middle(path: Path) -> None:
    """Flip bytes inside the compressed data: header and closing IEND stay intact."""
    data = bytearray(path.read_bytes())
    idat = data.index(b"IDAT") + 4
    for offset in range(idat + 2, idat + 8):
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    read_header(path)  # still a complete-looking PNG


def test_header_reader_finds_truncation_and_non_png(tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(np.zeros((5, 7, 3), np.uint8)).save(path)
    header = read_header(path)
    assert (header.width, header.height, header.channels, header.colour) == (7, 5, 3, "RGB")
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(PNGHeaderError, match="truncated"):
        read_header(path)
    (tmp_path / "b.png").write_bytes(b"GIF89a" + bytes(60))
    with pytest.raises(PNGHeaderError, match="not a PNG"):
        read_header(tmp_path / "b.png")


def test_truncated_file_outside_the_sample_is_found_by_the_header_pass(tmp_path):
    folder, skipped = large_tree(tmp_path / "data")
    victim = folder / "masks_png" / f"{skipped:04d}.png"
    victim.write_bytes(victim.read_bytes()[:-30])
    scan = check_layout(find_loveda(tmp_path / "data"), progress=None)
    assert scan.pairs_decoded == DECODE_SAMPLE + 1  # the sample, plus Val's one pair
    assert len(scan.problems) == 1 and "truncated" in scan.problems[0]
    assert victim.name in scan.problems[0]


def test_damage_inside_an_unsampled_file_is_caught_with_all_masks(tmp_path, repo_root):
    folder, skipped = large_tree(tmp_path / "data")
    victim = folder / "images_png" / f"{skipped:04d}.png"
    damage_middle(victim)
    layout = find_loveda(tmp_path / "data")
    assert check_layout(layout, progress=None).problems == []  # the sample cannot see it
    full = check_layout(layout, check_all_masks=True, progress=None)
    assert full.pairs_decoded == DECODE_SAMPLE + 40 + 1
    assert len(full.problems) == 1 and str(victim) in full.problems[0]
    cli = subprocess.run([sys.executable, "-m", "mapsage", "check-data", str(tmp_path / "data"),
                          "--all-masks"], capture_output=True, text=True, timeout=300,
                         cwd=repo_root)
    assert cli.returncode == 1 and str(victim) in cli.stdout, cli.stdout + cli.stderr


def test_an_rgb_mask_with_class_values_is_refused_from_its_header(tmp_path):
    folder = tiles(tmp_path / "data", "Train", 3)
    tiles(tmp_path / "data", "Val", 1)
    rgb = np.ones((8, 8, 3), np.uint8) * 3  # values 0..7: the value check alone passes it
    Image.fromarray(rgb).save(folder / "masks_png" / "0001.png")
    scan = check_layout(find_loveda(tmp_path / "data"), progress=None)
    assert len(scan.problems) == 1
    assert "more than one channel" in scan.problems[0]
    assert "0001.png (RGB, 3 channels)" in scan.problems[0]


def test_a_decompression_bomb_is_refused_without_decoding(tmp_path, monkeypatch, bomb_png):
    folder = tiles(tmp_path / "data", "Train", 2)
    tiles(tmp_path / "data", "Val", 1)
    bomb = folder / "images_png" / "0001.png"
    bomb_png(bomb, 2000)  # 4 million pixels in a few kB
    layout = find_loveda(tmp_path / "data")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 3_000_000)  # PIL's limit, lowered
    scan = check_layout(layout, progress=None)
    assert len(scan.problems) == 1, scan.problems
    assert "decompression-bomb limit of 3,000,000 pixels" in scan.problems[0]
    assert "0001.png (2000x2000 = 4,000,000 pixels)" in scan.problems[0]
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # PIL's way of turning it off
    assert "bomb" not in " ".join(check_layout(layout, progress=None).problems)


def test_crop_must_fit_the_smallest_training_image():
    assert crop_problem(512, (1024, 1024)) is None
    assert crop_problem(64, (64, 80)) is None
    text = crop_problem(96, (80, 64))
    assert "crop_size = 96" in text and "80x64" in text and "at most 64" in text


def test_loveda_size_tree_has_loveda_counts_and_names_and_is_cheap(tmp_path):
    root = generate(tmp_path / "loveda", SynthSpec.loveda_size(size=32, distinct=2),
                    progress=None)
    layout = find_loveda(root)
    for domain in layout.parts:
        first, count = LOVEDA_FILES[tuple(domain.label.split("/"))]
        names = sorted(int(p.stem) for p in domain.images.glob("*.png"))
        assert names == list(range(first, first + count))
        assert sorted(p.name for p in domain.masks.glob("*.png")) == sorted(
            p.name for p in domain.images.glob("*.png"))
        assert (domain.images / f"{first + 5}.png").stat().st_nlink > 1  # hard-linked
    assert sum(1 for _ in root.glob("Train/*/images_png/*.png")) == 2522
    assert sum(1 for _ in root.glob("Val/*/images_png/*.png")) == 1669
    scan = check_layout(layout, progress=None)
    assert scan.problems == [] and scan.files == 2 * 4191
    assert scan.smallest_train_image == (32, 32)
    # the demo's spec is still recognised and reused from an older manifest's fields
    demo = generate(tmp_path / "demo", SynthSpec(size=32, train_per_domain=1, val_per_domain=1),
                    progress=None)
    assert "distinct" not in (demo / "SYNTHETIC.json").read_text()


def test_check_all_data_makes_a_training_run_read_every_file(tmp_path, repo_root):
    pairs = DECODE_SAMPLE + 40
    folder = tiles(tmp_path / "data", "Train", pairs, size=32)
    tiles(tmp_path / "data", "Val", 1, size=32)
    names = [f"{i:04d}.png" for i in range(pairs)]
    skipped = min(i for i, n in enumerate(names) if n not in sample_names(names, False))
    victim = folder / "images_png" / names[skipped]
    damage_middle(victim)
    proc = subprocess.run(
        [sys.executable, "-m", "mapsage.train", f"data_root={tmp_path / 'data'}",
         f"work_dir={tmp_path / 'w'}", "crop_size=32", "num_workers=0", "check_all_data=True"],
        capture_output=True, text=True, timeout=300, cwd=repo_root)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "unreadable or truncated file" in proc.stderr and str(victim) in proc.stderr
    assert not (tmp_path / "w").exists()
