"""Check a LoveDA tree and the disk before training: every problem found in seconds, not hours in.

The cost is kept flat in the size of the data set (LoveDA: 4,191 image/mask pairs): what is cheap
is checked on every file, what needs decoding on an evenly spread sample. Per split and domain
folder found by :mod:`mapsage.data.layout`:

- images without masks and masks without images (count and first examples);
- files in an image or mask folder that are not ``.png`` (a ``.jpg`` among the tiles): mmseg's
  LoveDA data set reads ``.png`` only, so training would leave them out without a word (hidden
  files such as ``.DS_Store`` are passed over);
- every file: its PNG header and closing chunk (:mod:`mapsage.data.png`, 45 bytes per file):
  not a PNG, a damaged header or a truncated file is found here; the header also gives the
  size, so image and mask sizes are compared for every pair; a file with more pixels than
  ``PIL.Image.MAX_IMAGE_PIXELS`` (a decompression bomb) is refused without being decoded
  (``MAX_IMAGE_PIXELS = None`` turns this off, as it does in PIL); a mask must have one
  channel (greyscale or palette): an RGB mask whose values happen to lie in 0..7 would pass the
  value check and fail inside training;
- a sample (``DECODE_SAMPLE`` pairs per folder, evenly spread, all of them in small folders;
  every pair with ``check_all=True``, i.e. ``--all-masks``): the image is read completely
  (``PIL.Image.verify``: every chunk and its CRC, so a damaged middle is found) and the mask is
  decoded and its values checked against 0..7;
- no split is empty; the training crop fits in the smallest training image
  (:func:`crop_problem`);
- free disk in ``work_dir`` covers the checkpoints the run will keep (:func:`check_disk`, called
  by the preflight once the model's size is known).

All problems are collected and reported together in one :class:`InputError`, so a user fixes them
in one go. Progress with elapsed time is printed for large scans.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from mapsage.data.layout import DomainDir, LoveDALayout
from mapsage.data.png import PNGHeader, PNGHeaderError, read_header
from mapsage.errors import InputError

MASK_VALUES = range(0, 8)  # 0 = no-data, 1..7 = the LoveDA classes
DECODE_SAMPLE = 64  # image/mask pairs per domain folder read completely (all: check_all=True)
EXAMPLES = 3
HEAD_BYTES, TAIL_BYTES = 33, 12  # what mapsage.data.png.read_header reads of every file
PROGRESS_EVERY = 2000


@dataclass
class Scan:
    problems: list[str] = field(default_factory=list)
    files: int = 0  # headers read
    pairs_decoded: int = 0  # image verified completely + mask decoded
    smallest_train_image: tuple[int, int] | None = None  # (width, height) of the smallest side
    seconds: float = 0.0
    tiles: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> domain -> images

    def add(self, text: str) -> None:
        self.problems.append(text)

    @property
    def masks_decoded(self) -> int:
        return self.pairs_decoded


def _examples(names: list[str]) -> str:
    shown = ", ".join(names[:EXAMPLES])
    return shown + (f", ... ({len(names)} in all)" if len(names) > EXAMPLES else "")


def list_pngs(folder: Path) -> dict[str, os.stat_result]:
    """``{file name: stat}`` of the ``.png`` files in ``folder`` (one directory read)."""
    if not folder.is_dir():
        return {}
    with os.scandir(folder) as entries:
        return {e.name: e.stat() for e in entries if e.name.endswith(".png") and e.is_file()}


def not_pngs(folder: Path) -> list[str]:
    """Names of the files in ``folder`` that are not ``.png`` (hidden files passed over)."""
    if not folder.is_dir():
        return []
    with os.scandir(folder) as entries:
        return sorted(e.name for e in entries if not e.name.endswith(".png")
                      and not e.name.startswith(".") and not e.is_dir())


def max_pixels() -> int | None:
    """PIL's decompression-bomb limit, read when used (a user may change or disable it)."""
    return Image.MAX_IMAGE_PIXELS


def _verify(path: Path) -> str | None:
    """None for a PNG whose every chunk reads back with a correct CRC, else the reason."""
    try:
        with Image.open(path) as image:
            image.verify()
        return None
    except (OSError, SyntaxError, UnidentifiedImageError, ValueError, Image.DecompressionBombError
            ) as exc:
        return f"{type(exc).__name__}: {exc}"


def mask_values(path: Path) -> set[int]:
    """The distinct pixel values of a single-channel mask (decodes it)."""
    with Image.open(path) as mask:
        array = np.asarray(mask)
    if array.dtype == np.uint8:
        return set(np.flatnonzero(np.bincount(array.ravel(), minlength=256)).tolist())
    return set(np.unique(array).tolist())


def sample_names(pairs: list[str], check_all: bool) -> set[str]:
    """The pairs decoded: all of them, or ``DECODE_SAMPLE`` spread evenly (first and last in)."""
    if check_all or len(pairs) <= DECODE_SAMPLE:
        return set(pairs)
    return {pairs[i] for i in np.linspace(0, len(pairs) - 1, DECODE_SAMPLE).round().astype(int)}


@dataclass
class _Findings:
    broken: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    bombs: list[str] = field(default_factory=list)
    multichannel: list[str] = field(default_factory=list)
    bad_values: list[str] = field(default_factory=list)


def read_ends(path: Path) -> bytes:
    """The bytes the header check reads: the first 33 (signature, IHDR, its CRC) and the last
    12 (IEND) of ``path`` (fewer for a shorter file)."""
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
        size = fh.seek(0, 2)
        fh.seek(max(len(head), size - TAIL_BYTES))
        return head + fh.read(TAIL_BYTES)


def _header(path: Path, found: _Findings, limit: int | None) -> PNGHeader | None:
    """The header if the file may be decoded; None (and a finding) otherwise."""
    try:
        header = read_header(path)
    except (OSError, PNGHeaderError) as exc:
        found.broken.append(f"{path} ({exc})")
        return None
    if limit is not None and header.pixels > limit:
        found.bombs.append(f"{path} ({header.width}x{header.height} = {header.pixels:,} pixels)")
        return None
    return header


def _check_domain(domain: DomainDir, scan: Scan, *, check_all: bool, limit: int | None,
                  progress: Callable[[str], None] | None, started: float, decode: bool = True,
                  digest=None, root: Path | None = None) -> int:
    """Check one domain folder into ``scan``; return how many images it holds. ``decode=False``
    checks the headers only; ``digest`` (a hashlib object) is fed every pair's path relative to
    ``root``, size, modification time and the bytes the header check read."""
    where = f"{domain.split}/{domain.domain}"
    images, masks = list_pngs(domain.images), list_pngs(domain.masks)
    for folder in (domain.images, domain.masks):
        strays = not_pngs(folder)
        if strays:
            scan.add(f"{where}: {len(strays)} file(s) in {folder} that are not .png: "
                     f"{_examples(strays)}. LoveDA's tiles are PNG files and training reads "
                     "only .png, so these would be left out without a word: convert them to "
                     "PNG (image and mask under the same name) or move them out of the folder.")
    if not images and not masks:
        scan.add(f"{where} is empty: {domain.images} holds no .png images. Copy the "
                 f"{domain.split} tiles there or remove the empty folder.")
        return 0
    lonely_images = sorted(set(images) - set(masks))
    lonely_masks = sorted(set(masks) - set(images))
    if lonely_images:
        scan.add(f"{where}: {len(lonely_images)} image(s) without a mask in {domain.masks}: "
                 f"{_examples(lonely_images)}. Each image needs a mask of the same file name.")
    if lonely_masks:
        scan.add(f"{where}: {len(lonely_masks)} mask(s) without an image in {domain.images}: "
                 f"{_examples(lonely_masks)}.")
    pairs = sorted(set(images) & set(masks))
    sample = sample_names(pairs, check_all) if decode else set()
    found = _Findings()
    for name in pairs:
        image_path, mask_path = domain.images / name, domain.masks / name
        image = _header(image_path, found, limit)
        mask = _header(mask_path, found, limit)
        scan.files += 2
        if digest is not None:
            for path, stat in ((image_path, images[name]), (mask_path, masks[name])):
                digest.update(b"%s\0%d\0%d\0" % (os.fsencode(str(path.relative_to(root))),
                                                 stat.st_size, stat.st_mtime_ns))
                try:
                    digest.update(read_ends(path))
                except OSError:  # _header has recorded it as a problem: no record can match
                    digest.update(b"unreadable")
        if image and domain.split == "Train":
            side = min(image.width, image.height)
            if scan.smallest_train_image is None or side < min(scan.smallest_train_image):
                scan.smallest_train_image = (image.width, image.height)
        if image and mask and (image.width, image.height) != (mask.width, mask.height):
            found.mismatched.append(f"{name} (image {image.width}x{image.height}, mask "
                                    f"{mask.width}x{mask.height})")
        if mask and mask.channels != 1:
            found.multichannel.append(f"{name} ({mask.colour}, {mask.channels} channels)")
            mask = None
        if name in sample and image and mask:
            errors = {path: _verify(path) for path in (image_path, mask_path)}
            found.broken += [f"{path} ({error})" for path, error in errors.items() if error]
            try:
                values = set() if errors[mask_path] else mask_values(mask_path)
            except (OSError, SyntaxError, ValueError) as exc:
                found.broken.append(f"{mask_path} ({type(exc).__name__}: {exc})")
            else:
                outside = sorted(v for v in values if v not in MASK_VALUES)
                if outside:
                    found.bad_values.append(f"{name} (values {outside[:5]})")
            scan.pairs_decoded += 1
        if progress and scan.files % PROGRESS_EVERY == 0:
            progress(f"  checked {scan.files} files [{time.perf_counter() - started:.1f}s]")
    if found.broken:
        scan.add(f"{where}: {len(found.broken)} unreadable or truncated PNG file(s): "
                 f"{_examples(found.broken)}. Copy or unpack them again.")
    if found.bombs:
        scan.add(f"{where}: {len(found.bombs)} PNG file(s) larger than PIL's decompression-bomb "
                 f"limit of {limit:,} pixels (PIL.Image.MAX_IMAGE_PIXELS), not decoded: "
                 f"{_examples(found.bombs)}. LoveDA tiles are 1024x1024; remove these files, or "
                 "tile them first.")
    if found.mismatched:
        scan.add(f"{where}: {len(found.mismatched)} image/mask pair(s) of different sizes: "
                 f"{_examples(found.mismatched)}. A mask must match its image pixel for pixel.")
    if found.multichannel:
        scan.add(f"{where}: {len(found.multichannel)} mask(s) with more than one channel in "
                 f"{domain.masks}: {_examples(found.multichannel)}. A LoveDA mask is a "
                 "single-channel PNG of class indices 0..7 (greyscale or palette); convert "
                 "colour masks to indices.")
    if found.bad_values:
        scan.add(f"{where}: {len(found.bad_values)} mask(s) with values outside 0..7 (LoveDA: "
                 f"0 = no-data, 1..7 = classes): {_examples(found.bad_values)}. These are not "
                 "LoveDA masks (colour PNGs or another label set?).")
    return len(images)


def check_layout(layout: LoveDALayout, *, check_all_masks: bool = False,
                 progress: Callable[[str], None] | None = print, decode: bool = True,
                 digest=None) -> Scan:
    """Check every folder of ``layout`` (see the module docstring); never raises for bad data.
    ``decode=False`` reads the headers only (no sample is decoded); ``digest`` receives what
    :mod:`mapsage.data.check_cache` keys its record by (see :func:`_check_domain`)."""
    scan = Scan()
    started = time.perf_counter()
    limit = max_pixels()
    for domain in layout.domains:
        scan.tiles.setdefault(domain.split, {})[domain.domain] = _check_domain(
            domain, scan, check_all=check_all_masks, limit=limit, progress=progress,
            started=started, decode=decode, digest=digest, root=layout.root)
    for split in ("Train", "Val"):
        if split in scan.tiles and sum(scan.tiles[split].values()) == 0:
            scan.add(f"The {split} split has no images at all under {layout.root}.")
    scan.seconds = time.perf_counter() - started
    if progress:
        progress(f"data check: LoveDA at {layout.root}: {describe_tiles(scan.tiles)}; "
                 f"{scan.files} file headers read, {scan.pairs_decoded} image/mask "
                 f"pairs decoded{' (all)' if check_all_masks else ' (a spread sample)'} "
                 f"in {scan.seconds:.1f}s")
    return scan


def describe_tiles(tiles: dict[str, dict[str, int]]) -> str:
    """``Train 2522 tiles (Urban 1156, Rural 1366), Val ...``: images per split and domain."""
    return ", ".join(
        f"{split} {sum(domains.values())} tiles ("
        + ", ".join(f"{domain} {count}" for domain, count in domains.items()) + ")"
        for split, domains in tiles.items())


def crop_problem(crop_size: int | tuple[int, int], smallest: tuple[int, int] | None
                 ) -> str | None:
    """A sentence when a ``crop_size`` crop (a square, or (height, width) as in mmseg's
    configs) does not fit in the smallest training image."""
    if not isinstance(crop_size, int):
        crop_size = max(crop_size)
    if smallest is None or crop_size <= min(smallest):
        return None
    return (f"crop_size = {crop_size} is larger than the training images: the smallest is "
            f"{smallest[0]}x{smallest[1]}. Set crop_size to at most {min(smallest)} (LoveDA's "
            "recipe crops 512 from its 1024x1024 tiles).")


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


def raise_on_problems(layout: LoveDALayout, problems: list[str]) -> None:
    if problems:
        raise InputError(
            f"The data under {layout.root} cannot be trained on yet "
            f"({len(problems)} problem(s)); nothing was trained or overwritten:\n"
            + "\n".join(f"  - {p}" for p in problems))
