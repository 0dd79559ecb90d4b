"""Check a data set's folders and the disk before training: every problem found in seconds, not
hours in.

The check reads a :class:`~mapsage.data.layout.DataLayout`: the data set's description
(:mod:`mapsage.data.dataset`: classes, ignore index, file suffixes) and its images/masks folder
pairs (``parts``: LoveDA has one per split and domain, a folder data set one per split). Nothing
in it knows one data set from another: every rule reads the description. Its cost is kept flat in
the size of the data set (LoveDA: 4,191 image/mask pairs): what is cheap is checked on every
file, what needs decoding on an evenly spread sample. Per folder pair (messages name it by its
``label``: ``Train/Urban``, ``train (img_dir/train)``):

- images without masks and masks without images, matched by name: ``x`` + ``img_suffix`` with
  ``x`` + ``seg_map_suffix`` (count and first examples). A test split (role ``test``) needs no
  masks and may be missing; train and val need both (:func:`mapsage.data.layout.find_layout`
  refuses a missing one);
- files in an images or masks folder with another suffix (a ``.jpg`` among images whose
  ``img_suffix`` is ``.png``): mmseg reads the suffix it is given only, so training would leave
  them out without a word; the message says which suffix to set (hidden files such as
  ``.DS_Store`` are passed over);
- every file's header: a ``.png`` by its first and last bytes (:mod:`mapsage.data.png`, 45 bytes
  per file: not a PNG, a damaged header or a truncated file is found here); any other format
  (JPEG, TIFF, ...) by PIL's lazy ``Image.open``, which reads the header only (size and mode,
  no pixel decoded). The header gives the size, so image and mask sizes are compared for every
  pair; a file with more pixels than ``PIL.Image.MAX_IMAGE_PIXELS`` (a decompression bomb) is
  refused without being decoded (``MAX_IMAGE_PIXELS = None`` turns this off, as it does in
  PIL); a mask must have one channel (greyscale or palette): an RGB mask whose values happen
  to lie among the classes' would pass the value check and fail inside training;
- a sample (``DECODE_SAMPLE`` pairs per folder pair, evenly spread, all of them in small folders;
  every pair with ``check_all=True``, i.e. ``--all-masks``): the image is read completely (a PNG
  by ``PIL.Image.verify``: every chunk and its CRC; any other format decoded, so a truncated
  JPEG is found) and the mask is decoded and its values checked against the description's
  ``mask_values`` (its classes' values, 0 when it means "no data", and the ignore index);
- train and val are not empty; the training crop fits in the smallest training image
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
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePath

import numpy as np
from PIL import Image, UnidentifiedImageError

from mapsage.data.dataset import Description
from mapsage.data.layout import DataLayout, FolderPair
from mapsage.data.png import PNGHeaderError, read_header
from mapsage.errors import InputError

DECODE_SAMPLE = 64  # image/mask pairs per folder pair read completely (all: check_all=True)
EXAMPLES = 3
HEAD_BYTES, TAIL_BYTES = 33, 12  # what the record's digest reads of every file
PROGRESS_EVERY = 2000
REQUIRED_SPLITS = ("train", "val")  # a test split is optional and needs no masks


@dataclass
class Scan:
    problems: list[str] = field(default_factory=list)
    files: int = 0  # headers read
    pairs_decoded: int = 0  # image read completely + mask decoded (or a test image alone)
    train_values: set[int] = field(default_factory=set)  # in the train masks decoded
    smallest_train_image: tuple[int, int] | None = None  # (width, height) of the smallest side
    seconds: float = 0.0
    images: dict[str, dict[str, int]] = field(default_factory=dict)  # role -> label -> images

    def add(self, text: str) -> None:
        self.problems.append(text)

    @property
    def masks_decoded(self) -> int:
        return self.pairs_decoded


@dataclass(frozen=True)
class Header:
    """What a file's header tells, whatever its format."""
    width: int
    height: int
    channels: int
    colour: str  # "RGB", "greyscale", "palette", ... (PIL's mode for formats other than PNG)

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _examples(names: list[str]) -> str:
    shown = ", ".join(names[:EXAMPLES])
    return shown + (f", ... ({len(names)} in all)" if len(names) > EXAMPLES else "")


def list_files(folder: Path | None, suffix: str) -> dict[str, os.stat_result]:
    """``{file name: stat}`` of the files in ``folder`` whose name ends in ``suffix`` (one
    directory read; hidden files passed over)."""
    if folder is None or not folder.is_dir():
        return {}
    with os.scandir(folder) as entries:
        return {e.name: e.stat() for e in entries if e.name.endswith(suffix)
                and len(e.name) > len(suffix) and not e.name.startswith(".") and e.is_file()}


def strays(folder: Path | None, suffix: str) -> list[str]:
    """Names of the files in ``folder`` that do not end in ``suffix`` (hidden files passed
    over)."""
    if folder is None or not folder.is_dir():
        return []
    with os.scandir(folder) as entries:
        return sorted(e.name for e in entries if not e.name.endswith(suffix)
                      and not e.name.startswith(".") and not e.is_dir())


def _stem(name: str, suffix: str) -> str:
    return name[:-len(suffix)] if name.endswith(suffix) else str(PurePath(name).with_suffix(""))


def max_pixels() -> int | None:
    """PIL's decompression-bomb limit, read when used (a user may change or disable it)."""
    return Image.MAX_IMAGE_PIXELS


def _is_png(path: Path) -> bool:
    return path.suffix.lower() == ".png"


def read_any_header(path: Path) -> Header:
    """The size and channels of ``path`` from its header only: a PNG by
    :func:`mapsage.data.png.read_header` (45 bytes, also finds a truncated file), any other
    format by PIL's lazy ``Image.open`` (no pixel decoded). Raises ``OSError`` or
    :class:`PNGHeaderError` (a ``ValueError``) for a file that cannot be read."""
    if _is_png(path):
        png = read_header(path)
        return Header(png.width, png.height, png.channels, png.colour)
    try:
        with Image.open(path) as image:  # lazy: reads the header, decodes nothing
            width, height = image.size
            return Header(width, height, len(image.getbands()), image.mode)
    except UnidentifiedImageError:
        raise PNGHeaderError("not an image PIL can read") from None
    except (SyntaxError, ValueError) as exc:
        raise PNGHeaderError(f"damaged header ({exc})") from None


def _read_completely(path: Path) -> str | None:
    """None for a file that reads back completely (a PNG: every chunk and its CRC, by
    ``verify``; any other format: decoded), else the reason."""
    try:
        with Image.open(path) as image:
            if _is_png(path):
                image.verify()
            else:
                image.load()
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


def _span(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}..{high}"


def allowed_values(description: Description) -> str:
    """The mask values ``description`` allows, in words: ``0..4 (the 5 classes) and 255
    (ignore_index)``; with ``reduce_zero_label``: ``0 (no data), 1..7 (the 7 classes) and 255
    (ignore_index)``."""
    offset, count = description.label_offset, description.num_classes
    classes = f"{_span(offset, offset + count - 1)} (the {count} classes)"
    return (("0 (no data), " if offset else "") + classes
            + f" and {description.ignore_index} (ignore_index)")


def _values_text(values: list[int]) -> str:
    shown = ", ".join(map(str, values[:5])) + (", ..." if len(values) > 5 else "")
    return f"value{'s' if len(values) > 1 else ''} {shown}"


@dataclass
class _Findings:
    broken: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    bombs: list[str] = field(default_factory=list)
    multichannel: list[str] = field(default_factory=list)
    bad_values: list[str] = field(default_factory=list)


def read_ends(path: Path) -> bytes:
    """The bytes the record's digest holds of every file: the first 33 (a PNG's signature, IHDR
    and its CRC) and the last 12 (its IEND) of ``path`` (fewer for a shorter file)."""
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
        size = fh.seek(0, 2)
        fh.seek(max(len(head), size - TAIL_BYTES))
        return head + fh.read(TAIL_BYTES)


def _header(path: Path, found: _Findings, limit: int | None) -> Header | None:
    """The header if the file may be decoded; None (and a finding) otherwise."""
    try:
        header = read_any_header(path)
    except Image.DecompressionBombError as exc:  # PIL refuses above twice its limit
        found.bombs.append(f"{path} ({exc})")
        return None
    except (OSError, PNGHeaderError) as exc:
        found.broken.append(f"{path} ({exc})")
        return None
    if limit is not None and header.pixels > limit:
        found.bombs.append(f"{path} ({header.width}x{header.height} = {header.pixels:,} pixels)")
        return None
    return header


def _suffix_problem(part: FolderPair, folder: Path, kind: str, key: str, suffix: str,
                    names: list[str]) -> str:
    by_suffix: dict[str, int] = {}
    for name in names:
        other = PurePath(name).suffix or "(no suffix)"
        by_suffix[other] = by_suffix.get(other, 0) + 1
    common = max(by_suffix, key=by_suffix.get)
    counts = ", ".join(f"{count} {other}" for other, count in sorted(by_suffix.items()))
    fix = (f"set {key}: {common} in dataset.yaml (the data set's description) if that is the "
           f"{kind}' format, or convert or remove them" if common.startswith(".") else
           "remove them or give them the suffix")
    return (f"{part.label}: {len(names)} file(s) ({counts}) among the {kind} in {folder}, whose "
            f"{key} is {suffix}: {_examples(names)}. Training reads only {suffix} {kind} and "
            f"would leave these out without a word: {fix}.")


def _check_part(part: FolderPair, description: Description, scan: Scan, *, check_all: bool,
                limit: int | None, progress: Callable[[str], None] | None, started: float,
                decode: bool = True, digest=None, root: Path | None = None) -> int:
    """Check one images/masks folder pair into ``scan``; return how many images it holds.
    ``decode=False`` checks the headers only; ``digest`` (a hashlib object) is fed every file's
    path relative to ``root``, size, modification time and its first and last bytes."""
    where, img_suffix, seg_suffix = part.label, description.img_suffix, \
        description.seg_map_suffix
    labelled = part.masks is not None and part.masks.is_dir()
    images = list_files(part.images, img_suffix)
    masks = list_files(part.masks, seg_suffix) if labelled else {}
    stray_images = strays(part.images, img_suffix)
    stray_masks = strays(part.masks, seg_suffix) if labelled else []
    if stray_images:
        scan.add(_suffix_problem(part, part.images, "images", "img_suffix", img_suffix,
                                 stray_images))
    if stray_masks:
        scan.add(_suffix_problem(part, part.masks, "masks", "seg_map_suffix", seg_suffix,
                                 stray_masks))
    if not images and not masks:
        if part.split != "test" and not stray_images:
            scan.add(f"{where} is empty: {part.images} holds no {img_suffix} images. Copy the "
                     f"{part.split} images there or remove the empty folder.")
        return 0
    image_keys = {_stem(n, img_suffix): n for n in images}
    mask_keys = {_stem(n, seg_suffix): n for n in masks}
    if labelled and (masks or part.split != "test"):  # a test split may hold no masks at all
        stray_image_keys = {PurePath(n).stem for n in stray_images}
        stray_mask_keys = {PurePath(n).stem for n in stray_masks}
        # a file only its suffix kept from its partner is named once, by the suffix problem
        lonely_images = sorted(image_keys[k] for k in set(image_keys) - set(mask_keys)
                               if k not in stray_mask_keys)
        lonely_masks = sorted(mask_keys[k] for k in set(mask_keys) - set(image_keys)
                              if k not in stray_image_keys)
        if lonely_images:
            scan.add(f"{where}: {len(lonely_images)} image(s) without a mask in {part.masks}: "
                     f"{_examples(lonely_images)}. Each image needs a mask of the same name "
                     f"ending in {seg_suffix} (the data set's seg_map_suffix).")
        if lonely_masks:
            scan.add(f"{where}: {len(lonely_masks)} mask(s) without an image in {part.images}: "
                     f"{_examples(lonely_masks)}. Each mask needs an image of the same name "
                     f"ending in {img_suffix} (the data set's img_suffix).")
        keys = sorted(set(image_keys) & set(mask_keys))
    else:
        keys = sorted(image_keys)
        mask_keys = {}
    sample = sample_names(keys, check_all) if decode else set()
    allowed = description.mask_values
    found = _Findings()
    for key in keys:
        image_path = part.images / image_keys[key]
        mask_path = part.masks / mask_keys[key] if key in mask_keys else None
        image = _header(image_path, found, limit)
        mask = _header(mask_path, found, limit) if mask_path else None
        before = scan.files
        scan.files += 1 + (mask_path is not None)
        if digest is not None:
            for path, stat in ((image_path, images[image_keys[key]]),
                               (mask_path, masks.get(mask_keys.get(key, "")))):
                if path is None:
                    continue
                digest.update(b"%s\0%d\0%d\0" % (os.fsencode(str(path.relative_to(root))),
                                                 stat.st_size, stat.st_mtime_ns))
                try:
                    digest.update(read_ends(path))
                except OSError:  # _header has recorded it as a problem: no record can match
                    digest.update(b"unreadable")
        if image and part.split == "train":
            side = min(image.width, image.height)
            if scan.smallest_train_image is None or side < min(scan.smallest_train_image):
                scan.smallest_train_image = (image.width, image.height)
        if image and mask and (image.width, image.height) != (mask.width, mask.height):
            name = image_path.name if image_path.name == mask_path.name else \
                f"{image_path.name} and {mask_path.name}"
            found.mismatched.append(f"{name} (image {image.width}x{image.height}, mask "
                                    f"{mask.width}x{mask.height})")
        if mask and mask.channels != 1:
            found.multichannel.append(f"{mask_path.name} ({mask.colour}, {mask.channels} "
                                      "channels)")
            mask = None
        if key in sample and image and (mask or mask_path is None):
            paths = [image_path] + ([mask_path] if mask_path else [])
            errors = {path: _read_completely(path) for path in paths}
            found.broken += [f"{path} ({error})" for path, error in errors.items() if error]
            if mask_path is not None and not errors[mask_path]:
                try:
                    values = mask_values(mask_path)
                except (OSError, SyntaxError, ValueError) as exc:
                    found.broken.append(f"{mask_path} ({type(exc).__name__}: {exc})")
                else:
                    if part.split == "train":
                        scan.train_values |= values
                    outside = sorted(v for v in values if v not in allowed)
                    if outside:
                        shown = mask_path.relative_to(root) if root else mask_path
                        found.bad_values.append(f"{_values_text(outside)} in {shown}")
            scan.pairs_decoded += 1
        if progress and scan.files // PROGRESS_EVERY > before // PROGRESS_EVERY:
            progress(f"  checked {scan.files} files [{time.perf_counter() - started:.1f}s]")
    if found.broken:
        scan.add(f"{where}: {len(found.broken)} unreadable or truncated file(s): "
                 f"{_examples(found.broken)}. Copy or unpack them again.")
    if found.bombs:
        scan.add(f"{where}: {len(found.bombs)} file(s) larger than PIL's decompression-bomb "
                 f"limit of {limit:,} pixels (PIL.Image.MAX_IMAGE_PIXELS), not decoded: "
                 f"{_examples(found.bombs)}. Remove these files, or tile them first.")
    if found.mismatched:
        scan.add(f"{where}: {len(found.mismatched)} image/mask pair(s) of different sizes: "
                 f"{_examples(found.mismatched)}. A mask must match its image pixel for pixel.")
    if found.multichannel:
        scan.add(f"{where}: {len(found.multichannel)} mask(s) with more than one channel in "
                 f"{part.masks}: {_examples(found.multichannel)}. A mask is a single-channel "
                 f"image of class values (greyscale or palette), {allowed_values(description)}; "
                 "convert colour masks to class values.")
    if found.bad_values:
        scan.add(f"{where}: {len(found.bad_values)} mask(s) with values outside those of the "
                 f"data set: {_examples(found.bad_values)}, but {description.name} allows "
                 f"{allowed_values(description)}; fix the masks or the classes list (and "
                 "ignore_index, reduce_zero_label) of the data set's description.")
    return len(images)


def check_layout(layout: DataLayout, *, check_all_masks: bool = False,
                 progress: Callable[[str], None] | None = print, decode: bool = True,
                 digest=None) -> Scan:
    """Check every folder pair of ``layout`` (see the module docstring); never raises for bad
    data. ``decode=False`` reads the headers only (no sample is decoded); ``digest`` receives
    what :mod:`mapsage.data.check_cache` keys its record by (see :func:`_check_part`)."""
    scan = Scan()
    started = time.perf_counter()
    limit = max_pixels()
    description = layout.description
    with warnings.catch_warnings():  # the limit is checked here, and said once per folder
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        for part in layout.parts:
            scan.images.setdefault(part.split, {})[part.label] = _check_part(
                part, description, scan, check_all=check_all_masks, limit=limit,
                progress=progress, started=started, decode=decode, digest=digest,
                root=layout.root)
    lonely = _only_background_and_ignore(description, scan.train_values)
    if lonely:
        scan.add(lonely)
    for role in REQUIRED_SPLITS:
        if role in scan.images and sum(scan.images[role].values()) == 0:
            scan.add(f"The {role} split has no images at all under {layout.root}.")
    scan.seconds = time.perf_counter() - started
    if progress:
        progress(f"data check: {describe(layout, scan)}; {scan.files} file headers read, "
                 f"{scan.pairs_decoded} image/mask pairs decoded"
                 f"{' (all)' if check_all_masks else ' (a spread sample)'} "
                 f"in {scan.seconds:.1f}s")
    return scan


def _only_background_and_ignore(description: Description, seen: set[int]) -> str | None:
    """A sentence when the decoded train masks hold the first class's value and the ignore
    index but no other class: a binary mask saved as 0/255 (the objects would be ignored)."""
    first = description.label_offset  # the first class's value (0, or 1 after "no data")
    ignore = description.ignore_index
    if ignore not in seen or not seen - {ignore} or seen - {ignore} - {0, first}:
        return None
    return (f"the train masks decoded hold only {', '.join(map(str, sorted(seen)))}: no pixel of "
            f"any class but {description.classes[0]!r} besides {ignore}, which is the "
            f"ignore_index and so never learned. If {ignore} marks the objects (a binary mask "
            f"saved as 0/{ignore}), map it to the class's value in the masks (e.g. 255 -> 1), "
            "or set ignore_index to a value the masks do not use; fix the masks or the "
            "description.")


def describe_images(images: dict[str, dict[str, int]]) -> str:
    """``train 2522 images (Train/Urban 1156, Train/Rural 1366), val ...``: images per split
    (and per folder pair when a split has more than one)."""
    return ", ".join(
        f"{role} {sum(parts.values())} images" + (
            " (" + ", ".join(f"{label} {count}" for label, count in parts.items()) + ")"
            if len(parts) > 1 else "")
        for role, parts in images.items())


def describe(layout: DataLayout, scan: Scan) -> str:
    """``LoveDA (7 classes) at /data/LoveDA: train 2522 images (...), val 1669 images (...)``."""
    d = layout.description
    return (f"{d.name} ({d.num_classes} classes, {d.source}) at {layout.root}: "
            f"{describe_images(scan.images)}")


def crop_problem(crop_size: int | tuple[int, int], smallest: tuple[int, int] | None
                 ) -> str | None:
    """A sentence when a ``crop_size`` crop (a square, or (height, width) as in mmseg's
    configs) does not fit in the smallest training image."""
    if not isinstance(crop_size, int):
        crop_size = max(crop_size)
    if smallest is None or crop_size <= min(smallest):
        return None
    return (f"crop_size = {crop_size} is larger than the training images: the smallest is "
            f"{smallest[0]}x{smallest[1]}. Set crop_size to at most {min(smallest)}.")


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


def raise_on_problems(layout: DataLayout, problems: list[str]) -> None:
    if problems:
        raise InputError(
            f"The data under {layout.root} cannot be trained on yet "
            f"({len(problems)} problem(s)); nothing was trained or overwritten:\n"
            + "\n".join(f"  - {p}" for p in problems))
