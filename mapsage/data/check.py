"""Check a LoveDA tree and the disk before training: every problem found in seconds, not hours in.

What is checked, per split and domain folder found by :mod:`mapsage.data.layout`:

- images without masks and masks without images (count and first examples);
- every PNG is complete: ``PIL.Image.verify`` walks all chunks and their CRCs (a truncated or
  corrupt file fails) without decoding pixels, so it is I/O-bound and fast;
- image and mask sizes agree (read from the headers);
- mask values are within 0..7: masks are decoded for this, all of them in small data sets and an
  evenly spread sample of ``MASK_SAMPLE`` in large ones (``check_all_masks=True`` decodes all);
- no split is empty;
- free disk in ``work_dir`` covers the checkpoints the run will keep.

All problems are collected and reported together in one :class:`InputError`, so a user fixes them
in one go. Progress with elapsed time is printed for large scans.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from mapsage.errors import InputError, MapSageError
from mapsage.data.layout import LoveDALayout

MASK_VALUES = range(0, 8)  # 0 = no-data, 1..7 = the LoveDA classes
MASK_SAMPLE = 400
EXAMPLES = 3
PROGRESS_EVERY = 500




@dataclass
class Scan:
    problems: list[str] = field(default_factory=list)
    files: int = 0
    masks_decoded: int = 0

    def add(self, text: str) -> None:
        self.problems.append(text)


def _examples(names: list[str]) -> str:
    shown = ", ".join(names[:EXAMPLES])
    return shown + (f", ... ({len(names)} in all)" if len(names) > EXAMPLES else "")


def _verify(path: Path) -> tuple[tuple[int, int] | None, str | None]:
    """(size, None) for a complete PNG, (None, reason) otherwise."""
    try:
        with Image.open(path) as image:
            size = image.size
            image.verify()
        return size, None
    except (OSError, SyntaxError, UnidentifiedImageError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def _mask_values(path: Path) -> set[int]:
    with Image.open(path) as mask:
        return set(np.unique(np.asarray(mask)).tolist())


def check_layout(layout: LoveDALayout, *, check_all_masks: bool = False,
                 progress: Callable[[str], None] | None = print) -> Scan:
    scan = Scan()
    started = time.perf_counter()
    for domain in layout.domains:
        where = f"{domain.split}/{domain.domain}"
        images = {p.name: p for p in domain.images.glob("*.png")}
        masks = {p.name: p for p in domain.masks.glob("*.png")}
        if not images and not masks:
            scan.add(f"{where} is empty: {domain.images} holds no .png images. Copy the "
                     f"{domain.split} tiles there or remove the empty folder.")
            continue
        lonely_images = sorted(set(images) - set(masks))
        lonely_masks = sorted(set(masks) - set(images))
        if lonely_images:
            scan.add(f"{where}: {len(lonely_images)} image(s) without a mask in {domain.masks}: "
                     f"{_examples(lonely_images)}. Each image needs a mask of the same file name.")
        if lonely_masks:
            scan.add(f"{where}: {len(lonely_masks)} mask(s) without an image in {domain.images}: "
                     f"{_examples(lonely_masks)}.")
        pairs = sorted(set(images) & set(masks))
        broken, mismatched, bad_values = [], [], []
        sample = set(pairs) if check_all_masks or len(pairs) <= MASK_SAMPLE else {
            pairs[i] for i in np.linspace(0, len(pairs) - 1, MASK_SAMPLE).astype(int)}
        for name in pairs:
            image_size, image_error = _verify(images[name])
            mask_size, mask_error = _verify(masks[name])
            scan.files += 2
            for path, error in ((images[name], image_error), (masks[name], mask_error)):
                if error:
                    broken.append(f"{path} ({error})")
            if image_size and mask_size and image_size != mask_size:
                mismatched.append(f"{name} (image {image_size[0]}x{image_size[1]}, mask "
                                  f"{mask_size[0]}x{mask_size[1]})")
            if name in sample and not mask_error:
                values = _mask_values(masks[name])
                scan.masks_decoded += 1
                outside = sorted(v for v in values if v not in MASK_VALUES)
                if outside:
                    bad_values.append(f"{name} (values {outside[:5]})")
            if progress and scan.files % PROGRESS_EVERY == 0:
                progress(f"  checked {scan.files} files "
                         f"[{time.perf_counter() - started:.1f}s]")
        if broken:
            scan.add(f"{where}: {len(broken)} unreadable or truncated PNG file(s): "
                     f"{_examples(broken)}. Copy or unpack them again.")
        if mismatched:
            scan.add(f"{where}: {len(mismatched)} image/mask pair(s) of different sizes: "
                     f"{_examples(mismatched)}. A mask must match its image pixel for pixel.")
        if bad_values:
            scan.add(f"{where}: {len(bad_values)} mask(s) with values outside 0..7 (LoveDA: "
                     f"0 = no-data, 1..7 = classes): {_examples(bad_values)}. These are not "
                     "LoveDA masks (colour PNGs or another label set?).")
    for split in ("Train", "Val"):
        counts = [len(list(d.images.glob("*.png"))) for d in layout.split(split)]
        if counts and sum(counts) == 0:
            scan.add(f"The {split} split has no images at all under {layout.root}.")
    if progress:
        progress(f"data check: {scan.files} files verified, {scan.masks_decoded} masks decoded "
                 f"in {time.perf_counter() - started:.1f}s")
    return scan


def checkpoint_bytes(parameters: int, kept: int) -> int:
    """Disk for ``kept`` checkpoints: weights + AdamW's two moments, float32, plus 10 %."""
    return int(parameters * 4 * 3 * 1.1) * kept


def check_disk(work_dir: str | Path, needed: int) -> str | None:
    path = Path(work_dir).resolve()
    while not path.exists():
        path = path.parent
    free = shutil.disk_usage(path).free
    if free < needed:
        return (f"Not enough free disk for the checkpoints: {needed / 2**30:.2f} GiB needed in "
                f"{work_dir} ({path} has {free / 2**30:.2f} GiB free). Free some space, choose "
                "another work_dir, or save fewer checkpoints (a larger checkpoint_interval).")
    return None


def check_inputs(layout: LoveDALayout, work_dir: str | Path, *, parameters: int, kept: int,
                 check_all_masks: bool = False, progress=print) -> Scan:
    scan = check_layout(layout, check_all_masks=check_all_masks, progress=progress)
    disk = check_disk(work_dir, checkpoint_bytes(parameters, kept))
    if disk:
        scan.add(disk)
    if scan.problems:
        raise InputError(
            f"The data under {layout.root} cannot be trained on yet "
            f"({len(scan.problems)} problem(s)); nothing was trained or overwritten:\n"
            + "\n".join(f"  - {p}" for p in scan.problems))
    return scan
