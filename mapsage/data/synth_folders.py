"""A second small, deterministic synthetic data set, shaped unlike LoveDA, whose classes can be learnt.

mmseg's own folder layout, JPEG images with PNG masks, 5 classes, 255 as the ignore index::

    <out>/img_dir/{train,val,test}/<split>_NNNN.jpg   RGB, JPEG quality 90, 4:4:4
    <out>/ann_dir/{train,val}/<split>_NNNN.png        single channel ('L')
    <out>/dataset.yaml                                the data set's description
    <out>/SYNTHETIC-FOLDERS.json                      this generator's manifest

Mask values: 0 background, 1 roof, 2 tree, 3 water, 4 road, and 255 = not labelled (a band
along one edge of about a third of the tiles; the image there shows the scene as usual, only its
label is missing). ``reduce_zero_label`` is false: 0 is a real class. The test split has images
only.

Each tile is a Voronoi map of background, tree and water, crossed by straight roads and dotted
with rectangular roofs. Every class has its own colour *and* texture (calm water, speckled trees,
roof tiles, striped roads), with a per-tile colour cast and noise, so a small CNN learns it on
the CPU in a few hundred iterations, as the LoveDA-layout generator (:mod:`mapsage.data.synth`)
does for its 7 classes.

Determinism: same arguments -> byte-identical PNG masks (and the same pixels before JPEG
encoding). The JPEG files' bytes depend on the JPEG encoder Pillow ships (libjpeg-turbo's
version), so they are identical for one Pillow version but may differ, by a few grey levels per
pixel, between versions; compare masks, not images, across machines.

Written through :mod:`mapsage.safe_write` (nothing is written through a link planted at a
file's name). A folder that is not empty and does not hold this generator's manifest is refused:
the generator only ever replaces its own earlier output.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from mapsage.errors import MapSageError
from mapsage.safe_write import replacing, write_text

NAME = "synthetic-roofs"
CLASSES = ("background", "roof", "tree", "water", "road")
# display colours (RGB) for the report and legends: not the pictures' colours
PALETTE = ((190, 190, 190), (220, 60, 50), (40, 140, 40), (40, 100, 220), (250, 200, 40))
IGNORE_INDEX = 255
IMG_SUFFIX, SEG_MAP_SUFFIX = ".jpg", ".png"
SPLITS = ("train", "val", "test")
LABELLED = ("train", "val")  # the test split has no masks
JPEG_QUALITY = 90
MANIFEST = "SYNTHETIC-FOLDERS.json"
DESCRIPTION = "dataset.yaml"
GENERATOR = "mapsage.data.synth_folders"
VERSION = 1  # bump when the generator's output changes

BACKGROUND, ROOF, TREE, WATER, ROAD = range(5)
# base colour (RGB) per class in the pictures
_COLOURS = np.array(
    [[175, 165, 140], [175, 85, 65], [55, 110, 50], [45, 85, 150], [115, 115, 120]],
    dtype=np.float32)
_GROUND = np.array([BACKGROUND, TREE, WATER])
_GROUND_WEIGHTS = np.array([4.0, 3.0, 1.5]) / 8.5


class ForeignFolder(MapSageError):
    """The output folder holds files this generator did not write."""


@dataclass(frozen=True)
class FoldersSpec:
    size: int = 128
    train: int = 24
    val: int = 8
    test: int = 4
    seed: int = 0
    version: int = VERSION

    def count(self, split: str) -> int:
        return {"train": self.train, "val": self.val, "test": self.test}[split]

    def stems(self, split: str) -> list[str]:
        return [f"{split}_{i:04d}" for i in range(self.count(split))]


def _textures(size: int, rng: np.random.Generator) -> np.ndarray:
    """Per-class texture offsets, shape (5, size, size)."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi)
    flat = np.zeros((size, size), np.float32)
    return np.stack([
        rng.normal(0, 6, (size, size)).astype(np.float32),           # background: fine grain
        24.0 * ((y // 3) % 2) - 12,                                  # roof: rows of tiles
        rng.normal(0, 28, (size, size)).astype(np.float32),          # tree: rough speckle
        flat + 4 * np.sin((x + y) / 7.0 + phase),                    # water: calm swell
        flat,                                                        # road: smooth (markings below)
    ])


def make_tile(size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One (image HxWx3 uint8, mask HxW uint8 with values 0..4 and 255) pair."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    # ground: a Voronoi map of background, tree and water
    n_regions = int(rng.integers(3, 7))
    seeds = rng.uniform(0, size, (n_regions, 2)).astype(np.float32)
    region_class = rng.choice(_GROUND, size=n_regions, p=_GROUND_WEIGHTS)
    dist = (y[None] - seeds[:, 0, None, None]) ** 2 + (x[None] - seeds[:, 1, None, None]) ** 2
    cls = region_class[np.argmin(dist, axis=0)].astype(np.uint8)
    # roads: straight bands across the tile, with a dashed centre line
    markings = np.zeros((size, size), bool)
    for _ in range(int(rng.integers(0, 3))):
        width = int(rng.integers(max(3, size // 20), max(4, size // 9)))
        at = int(rng.integers(0, size - width))
        mid = at + width // 2
        if rng.random() < 0.5:
            cls[at:at + width, :] = ROAD
            markings[mid, :] = (np.arange(size) // 4) % 2 == 0
        else:
            cls[:, at:at + width] = ROAD
            markings[:, mid] = (np.arange(size) // 4) % 2 == 0
    # roofs: rectangles on top
    for _ in range(int(rng.integers(1, 6))):
        h, w = (int(v) for v in rng.integers(max(4, size // 12), max(5, size // 3), 2))
        top, left = int(rng.integers(0, size - h)), int(rng.integers(0, size - w))
        cls[top:top + h, left:left + w] = ROOF
        markings[top:top + h, left:left + w] = False
    tex = _textures(size, rng)
    cast = rng.uniform(-15, 15, 3).astype(np.float32)  # per-tile colour cast (sensor, season)
    img = _COLOURS[cls] + np.take_along_axis(tex, cls[None].astype(np.intp), 0)[0][..., None] + cast
    img[markings & (cls == ROAD)] = 235.0
    img += rng.normal(0, 8, img.shape).astype(np.float32)
    mask = cls.copy()
    if rng.random() < 0.35:  # an unlabelled band along one edge: ignored, the picture unchanged
        width = int(rng.integers(size // 16, size // 5))
        band = [np.s_[:width, :], np.s_[-width:, :], np.s_[:, :width], np.s_[:, -width:]][
            int(rng.integers(4))]
        mask[band] = IGNORE_INDEX
    return np.clip(img, 0, 255).astype(np.uint8), mask


def description_text() -> str:
    """``dataset.yaml``: the data set's description, in the lead's schema."""
    palette = ", ".join(f"[{r}, {g}, {b}]" for r, g, b in PALETTE)
    return (f"name: {NAME}\n"
            f"classes: [{', '.join(CLASSES)}]\n"
            f"palette: [{palette}]\n"
            f"img_suffix: {IMG_SUFFIX}\n"
            f"seg_map_suffix: {SEG_MAP_SUFFIX}\n"
            f"reduce_zero_label: false\n"
            f"ignore_index: {IGNORE_INDEX}\n")


def _manifest(spec: FoldersSpec, complete: bool) -> dict:
    return {"generator": GENERATOR, **asdict(spec), "complete": complete}


def _read_manifest(out: Path) -> dict | None:
    """This generator's manifest in ``out``, or None (absent, a link, not JSON, not ours)."""
    path = out / MANIFEST
    if os.path.islink(path) or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("generator") == GENERATOR else None


def _own_files(out: Path) -> list[Path]:
    """The files this generator writes, as they are in ``out`` now (any spec)."""
    files = [out / MANIFEST, out / DESCRIPTION]
    for split in SPLITS:
        files += (out / "img_dir" / split).glob(f"*{IMG_SUFFIX}")
    for split in LABELLED:
        files += (out / "ann_dir" / split).glob(f"*{SEG_MAP_SUFFIX}")
    return files


def _write_image(path: Path, array: np.ndarray, **save) -> None:
    with replacing(path, durable=False) as fh:  # never through a link at the name
        Image.fromarray(array).save(fh, **save)


def generate_folders(out: Path, *, size: int = 128, train: int = 24, val: int = 8, test: int = 4,
                     seed: int = 0, progress=print) -> Path:
    """Write the data set under ``out``; return ``out``.

    Reused as is when ``out`` holds this generator's complete output for the same arguments;
    its own earlier output for other arguments (or an interrupted run) is replaced; a non-empty
    folder without its manifest is refused with :class:`ForeignFolder` (nothing is written)."""
    out = Path(out)
    spec = FoldersSpec(size=size, train=train, val=val, test=test, seed=seed)
    if size < 32 or min(train, val) < 1 or test < 0:
        raise ValueError(f"need size >= 32, train >= 1, val >= 1, test >= 0: {spec}")
    found = _read_manifest(out) if out.is_dir() else None
    if found is not None:
        if found == _manifest(spec, complete=True):
            if progress:
                progress(f"synthetic folder data set already at {out} (same spec), reusing it")
            return out
        for old in _own_files(out):
            if os.path.lexists(old):
                old.unlink()  # a link is removed itself, never what it points at
    elif out.is_dir() and any(out.iterdir()):
        raise ForeignFolder(
            f"{str(out)!r} is not empty and was not written by the synthetic data set generator "
            f"(no {MANIFEST} of its own in it). It only replaces its own earlier output: give "
            f"an empty or new folder.")
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / MANIFEST, json.dumps(_manifest(spec, complete=False), indent=2) + "\n")
    for split_index, split in enumerate(SPLITS):
        img_dir = out / "img_dir" / split
        img_dir.mkdir(parents=True, exist_ok=True)
        ann_dir = out / "ann_dir" / split if split in LABELLED else None
        if ann_dir is not None:
            ann_dir.mkdir(parents=True, exist_ok=True)
        for i, stem in enumerate(spec.stems(split)):
            image, mask = make_tile(size, np.random.default_rng([seed, split_index, i]))
            _write_image(img_dir / f"{stem}{IMG_SUFFIX}", image, format="JPEG",
                         quality=JPEG_QUALITY, subsampling=0, optimize=False)
            if ann_dir is not None:
                _write_image(ann_dir / f"{stem}{SEG_MAP_SUFFIX}", mask, format="PNG",
                             optimize=False)
        if progress:
            progress(f"  {split}: {spec.count(split)} tiles  "
                     f"[{time.perf_counter() - started:.1f}s]")
    write_text(out / DESCRIPTION, description_text())
    write_text(out / MANIFEST, json.dumps(_manifest(spec, complete=True), indent=2) + "\n")
    if progress:
        progress(f"wrote {train + val + test} synthetic {size}px tiles ({len(CLASSES)} classes, "
                 f"img_dir/ann_dir, JPEG + PNG) to {out} in {time.perf_counter() - started:.1f}s")
    return out
