"""A small, deterministic data set in LoveDA's folder layout whose classes can be learnt.

Each tile is a Voronoi map of land-cover regions. Every class has its own colour *and* texture
(stripes for roads and fields, blocks for buildings, speckle for forest, calm water), so a model
learns the mapping from pixels rather than memorising tiles, and a real training run on the CPU
shows mIoU rising well above chance within a few hundred iterations. Masks follow LoveDA: 0 is
no-data (a black band along some tile edges), 1..7 are background, building, road, water,
barren, forest, agricultural. Same arguments -> byte-identical PNG files.

``SynthSpec.loveda_size()`` lays out a tree of LoveDA's real size cheaply, for measuring what
MapSage's own start-up costs at that size: LoveDA's counts and file numbering (Train: Rural
0-1365, Urban 1366-2521; Val: Rural 2522-3513, Urban 3514-4190) of 1024x1024 tiles, of which only
``distinct`` per folder are generated; the other files are hard links to them (copies where the
file system has no hard links). Every file is a complete PNG of the real size and weight, so
reading, checking and decoding cost what they cost on LoveDA, at a few seconds of generation.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from mapsage.data.layout import DOMAINS, IMAGES, MASKS
from mapsage.safe_write import replacing, write_text

# base colour (RGB) per class 1..7
# Pairs are close on purpose (background/barren, building/road, forest/agricultural): colour
# alone does not separate them, the texture has to be learnt too.
_COLOURS = np.array(
    [[185, 180, 165], [165, 95, 85], [115, 105, 105], [45, 85, 150],
     [185, 165, 130], [60, 115, 55], [105, 145, 65]], dtype=np.float32)
# how often each class is drawn for a region, per domain
_WEIGHTS = {
    "Urban": np.array([3, 4, 3, 1, 1, 1, 1], dtype=np.float64),
    "Rural": np.array([2, 1, 1, 2, 2, 3, 4], dtype=np.float64),
}
MANIFEST = "SYNTHETIC.json"
# LoveDA's published split (Train 2,522 and Val 1,669 tiles): first file number and count
LOVEDA_FILES = {("Train", "Rural"): (0, 1366), ("Train", "Urban"): (1366, 1156),
                ("Val", "Rural"): (2522, 992), ("Val", "Urban"): (3514, 677)}


@dataclass(frozen=True)
class SynthSpec:
    size: int = 128
    train_per_domain: int = 16
    val_per_domain: int = 8
    seed: int = 0
    version: int = 1  # bump when the generator's output changes
    loveda_counts: bool = False  # LoveDA's counts and file names instead of *_per_domain
    distinct: int = 0  # tiles generated per folder (the rest hard-linked to them); 0 = all

    @classmethod
    def loveda_size(cls, size: int = 1024, distinct: int = 2, seed: int = 0) -> SynthSpec:
        """LoveDA's 4,191 Train + Val tiles of ``size`` px, ``distinct`` generated per folder."""
        return cls(size=size, seed=seed, loveda_counts=True, distinct=distinct)

    def files(self, split: str, domain: str) -> list[str]:
        """The tile file names of one folder."""
        if self.loveda_counts:
            first, count = LOVEDA_FILES[(split, domain)]
            return [f"{first + i}.png" for i in range(count)]
        count = self.train_per_domain if split == "Train" else self.val_per_domain
        base = 1000 * (2 * ("Train", "Val").index(split) + DOMAINS.index(domain) + 1)
        return [f"{base + i}.png" for i in range(count)]


def _textures(size: int, rng: np.random.Generator) -> np.ndarray:
    """Per-class texture offsets, shape (7, size, size)."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi)
    flat = np.zeros((size, size), np.float32)
    return np.stack([
        flat + 6 * np.sin(x / 3.0 + phase),                         # background: faint ripple
        28.0 * (((x // 6) + (y // 6)) % 2) - 14,                   # building: blocks
        22 * np.sin(2 * np.pi * y / 5 + phase),                     # road: fine stripes
        flat,                                                       # water: calm
        rng.normal(0, 18, (size, size)).astype(np.float32),         # barren: speckle
        rng.normal(0, 30, (size, size)).astype(np.float32),         # forest: rough
        20 * np.sin(2 * np.pi * (x + y) / 9 + phase),               # agricultural: diagonal rows
    ])


def make_tile(size: int, domain: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One (image HxWx3 uint8, mask HxW uint8 with values 0..7) pair."""
    n_regions = int(rng.integers(4, 9))
    seeds = rng.uniform(0, size, (n_regions, 2)).astype(np.float32)
    weights = _WEIGHTS[domain] / _WEIGHTS[domain].sum()
    region_class = rng.choice(7, size=n_regions, p=weights)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    dist = (y[None] - seeds[:, 0, None, None]) ** 2 + (x[None] - seeds[:, 1, None, None]) ** 2
    cls = region_class[np.argmin(dist, axis=0)]  # 0..6
    tex = _textures(size, rng)
    cast = rng.uniform(-18, 18, 3).astype(np.float32)  # per-tile colour cast (sensor, season)
    img = _COLOURS[cls] + np.take_along_axis(tex, cls[None], 0)[0][..., None] + cast
    img += rng.normal(0, 10, img.shape).astype(np.float32)
    mask = (cls + 1).astype(np.uint8)
    if rng.random() < 0.3:  # a no-data band along one edge, black in the image as in LoveDA
        width = int(rng.integers(size // 16, size // 5))
        band = [np.s_[:width, :], np.s_[-width:, :], np.s_[:, :width], np.s_[:, -width:]][
            int(rng.integers(4))]
        mask[band] = 0
        img[band] = 0
    return np.clip(img, 0, 255).astype(np.uint8), mask


def _write_png(path: Path, array: np.ndarray) -> None:
    with replacing(path, durable=False) as fh:  # never through a link at the name
        Image.fromarray(array).save(fh, format="PNG", optimize=False)


def _link(source: Path, target: Path) -> None:
    """``target`` as a hard link to ``source`` (a copy where hard links are not supported)."""
    tmp = target.with_suffix(".tmp.png")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    tmp.replace(target)


def _manifest(spec: SynthSpec) -> dict:
    """The spec as recorded; fields at their defaults that older manifests lack are left out,
    so a data set written before they existed is still recognised."""
    wanted = asdict(spec)
    for key in ("loveda_counts", "distinct"):
        if wanted[key] == SynthSpec.__dataclass_fields__[key].default:
            del wanted[key]
    return wanted


def generate(out_dir: str | Path, spec: SynthSpec = SynthSpec(), progress=print) -> Path:
    """Write the data set under ``out_dir`` (reused as is when its manifest matches ``spec``).

    A tree this function wrote for another spec is replaced (its tiles are removed first)."""
    out = Path(out_dir)
    manifest = out / MANIFEST
    wanted = _manifest(spec)
    if manifest.is_file():
        if json.loads(manifest.read_text()) == wanted:
            if progress:
                progress(f"synthetic LoveDA data set already at {out} (same spec), reusing it")
            return out
        manifest.unlink()
        for old in out.glob("*/*/*/*.png"):
            old.unlink()
    started = time.perf_counter()
    folders = [(split, domain) for split in ("Train", "Val") for domain in DOMAINS]
    total = sum(len(spec.files(*f)) for f in folders)
    done = generated = 0
    for split, domain in folders:
        split_seed, d = ("Train", "Val").index(split), DOMAINS.index(domain)
        img_dir, mask_dir = out / split / domain / IMAGES, out / split / domain / MASKS
        img_dir.mkdir(parents=True, exist_ok=True)
        mask_dir.mkdir(parents=True, exist_ok=True)
        names = spec.files(split, domain)
        distinct = len(names) if spec.distinct <= 0 else min(spec.distinct, len(names))
        for i, name in enumerate(names):
            if i < distinct:
                rng = np.random.default_rng([spec.seed, split_seed, d, i])
                image, mask = make_tile(spec.size, domain, rng)
                _write_png(img_dir / name, image)
                _write_png(mask_dir / name, mask)
                generated += 1
            else:
                source = names[i % distinct]
                _link(img_dir / source, img_dir / name)
                _link(mask_dir / source, mask_dir / name)
            done += 1
        if progress:
            progress(f"  {split}/{domain}: {len(names)} tiles ({distinct} generated)  "
                     f"[{done}/{total}, {time.perf_counter() - started:.1f}s]")
    write_text(manifest, json.dumps(wanted, indent=2) + "\n")
    if progress:
        progress(f"wrote {total} synthetic {spec.size}px LoveDA-layout tiles ({generated} "
                 f"generated, {total - generated} hard-linked) to {out} "
                 f"in {time.perf_counter() - started:.1f}s")
    return out


SYNTHETIC_DIR = Path("data/synthetic-loveda")
"""Where ``data_root='synthetic'`` generates the demo data set (relative to the working folder)."""


def resolve_data_root(data_root: str, progress=print) -> Path:
    """``'synthetic'`` means the bundled demo data set, generated on first use; else the path."""
    from mapsage.params import SYNTHETIC

    if data_root != SYNTHETIC:
        return Path(data_root)
    return generate(SYNTHETIC_DIR, progress=progress)
