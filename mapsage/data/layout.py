"""Find a data set's folders under a root: LoveDA in its published layout, or any folder data
set its description (:mod:`mapsage.data.dataset`) describes.

LoveDA::

    <root>/Train/{Urban,Rural}/{images_png,masks_png}/*.png
    <root>/Val/{Urban,Rural}/{images_png,masks_png}/*.png

Archives unpack in more than one way, so a split may also sit one level deeper
(``Train/Train/Urban/...``) and the root itself may be a parent of the real root
(``/kaggle/input/datasets/alice/loveda/LoveDA/Train/...``). A folder data set has one images and
one masks folder per split, named in its ``dataset.yaml`` or found in one of the common shapes
(:mod:`envcheck.folders`: ``train/images`` + ``train/masks``, ``img_dir/train`` +
``ann_dir/train``, ...). Where the root is, is decided by the searches in :mod:`envcheck`, the same
ones the Kaggle first checks use, so the checks and training always agree. Only the standard
library (and PyYAML for a description) is used, so this runs before anything heavy is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from envcheck import folders
from envcheck.loveda import DOMAINS, IMAGES, MASKS, SPLITS, find_root, split_dir
from envcheck.walk import MAX_DEPTH, MAX_DIRS, walk
from mapsage.data.dataset import LOVEDA, Description, resolve
from mapsage.errors import MapSageError

SHOWN = 16  # entries the "no LoveDA layout" message lists


@dataclass(frozen=True)
class FolderPair:
    """One images folder and its masks folder (None: a test split without masks)."""
    split: str  # its role: "train", "val" or "test"
    label: str  # how messages name it: "Train/Urban" (LoveDA), "train"
    images: Path
    masks: Path | None


@dataclass(frozen=True)
class DataLayout:
    """Where a described data set's folders are: ``parts`` holds every images/masks folder
    pair (LoveDA: one per split and domain; a folder data set: one per split)."""
    root: Path
    description: Description
    parts: tuple[FolderPair, ...]

    def split(self, role: str) -> tuple[FolderPair, ...]:
        return tuple(p for p in self.parts if p.split == role)


def _loveda_parts(root: Path) -> tuple[FolderPair, ...]:
    found = []
    for split in SPLITS:
        base = split_dir(root, split)
        if base is None:
            continue
        for domain in DOMAINS:
            if (base / domain / IMAGES).is_dir():
                found.append(FolderPair(split.lower(), f"{split}/{domain}", base / domain / IMAGES,
                                        base / domain / MASKS))
    return tuple(found)


def _describe(root: Path) -> str:
    """What the search saw under ``root``, breadth-first down the levels it searched (so a
    folder nested one level down, such as ``loveda/img_dir/``, is named, not just ``loveda/``);
    a deeper folder's files as a count; mmseg's converted layout is named as such."""
    shown: list[str] = []
    unlisted: list[str] = []
    converted: list[str] = []
    total = 0

    def on_error(folder: Path, exc: OSError) -> None:
        if folder == root:
            unlisted.append(f"(cannot list it: {exc.strerror})")
        else:
            unlisted.append(f"{_relative(root, folder)} ({exc.strerror})")

    for here, depth, entries in walk(root, MAX_DEPTH, MAX_DIRS, on_error=on_error):
        prefix = "" if depth == 0 else f"{_relative(root, here)}"
        names = {e.name for e in entries}
        if {"img_dir", "ann_dir"} <= names:
            converted.append(prefix or "./")
        files = [e.name for e in entries if not e.is_dir()]
        if depth > 0 and len(files) > 3:
            items = [f"({len(files)} files in {prefix})"]
        else:
            items = [prefix + name for name in files]
        items += [f"{prefix}{e.name}/" for e in entries if e.is_dir()]
        total += len(items)
        shown += items[:max(0, SHOWN - len(shown))]
    if unlisted and unlisted[0].startswith("(cannot list it"):
        return unlisted[0]
    if not shown:
        return "it is empty"
    text = ", ".join(shown) + (f", ... ({total} entries)" if total > len(shown) else "")
    text = f"it contains (searched {MAX_DEPTH} folder levels down): {text}"
    if unlisted:
        text += f"; not readable: {', '.join(unlisted[:3])}"
    if converted:
        text += (f". {converted[0]} holds img_dir/ and ann_dir/: that is the layout mmseg's "
                 "tools/dataset_converters/loveda.py writes: MapSage reads it as a folder data set "
                 "with a dataset.yaml beside it (docs/datasets.md shows LoveDA's)")
    return text


def _relative(root: Path, folder: Path) -> str:
    relative = folder.relative_to(root).as_posix()
    return "./" if relative == "." else f"{relative}/"


def find_layout(data_root: str | Path, dataset: str | None = None) -> DataLayout:
    """The folders of the data set ``dataset`` (the parameter: None/'auto', 'loveda', a
    description file or inline text; :func:`mapsage.data.dataset.resolve`) under ``data_root``,
    or a clear error saying what was expected and what is there."""
    root = Path(data_root).expanduser()
    if not root.is_dir():
        raise MapSageError(
            f"data_root {str(root)!r} does not exist or is not a folder. Point data_root at the "
            "folder that holds your data set (LoveDA's Train/ and Val/ folders, or the folder "
            "with your dataset.yaml), or use data_root='synthetic' for the bundled demo data "
            "(`mapsage synth DIR` writes it).")
    description = resolve(dataset, root)
    if description.layout == LOVEDA.layout:
        return find_loveda(root, description)
    return find_folders(root, description)


def find_loveda(root: str | Path, description: Description = LOVEDA) -> DataLayout:
    """Locate LoveDA's Train and Val under ``root`` (or up to ``envcheck.walk.MAX_DEPTH``
    folders below it) or raise a clear error."""
    root = Path(root).expanduser()
    found = find_root(root)
    if found is not None:
        return _complete(DataLayout(found, description, _loveda_parts(found)))
    raise MapSageError(
        f"No LoveDA layout under data_root {str(root)!r}: expected "
        "Train/{Urban,Rural}/{images_png,masks_png} and Val/{Urban,Rural}/{images_png,masks_png}, "
        f"but {_describe(root)}. Unpack LoveDA's Train.zip and Val.zip into one folder and point "
        "data_root at it; for another data set, put a dataset.yaml beside its folders "
        "(docs/datasets.md).")


def find_folders(data_root: Path, description: Description) -> DataLayout:
    """A folder data set's split folders: those its description names (relative to the
    description's folder), else the shallowest of :data:`envcheck.folders.SHAPES` found."""
    base = description.base or data_root
    if description.splits:
        parts = []
        for role, spec in description.splits.items():
            images = base / spec.images
            masks = base / spec.masks if spec.masks else None
            for key, folder in (("images", images), ("masks", masks)):
                if folder is not None and not folder.is_dir():
                    raise MapSageError(
                        f"{description.source} names splits.{role}.{key} = "
                        f"{getattr(spec, key)!r}, but {str(folder)!r} is not a folder. Fix the "
                        "path (relative to the description's folder) or leave splits out to "
                        "have the folders found.")
            parts.append(FolderPair(role, role, images, masks))
        return _complete(DataLayout(base, description, tuple(parts)))
    found = folders.find_root(base)
    if found is None:
        shapes = "; ".join(f"{s.images.format(split='train', kind='images')} + "
                           f"{s.masks.format(split='train', kind='masks')}"
                           for s in folders.SHAPES)
        raise MapSageError(
            f"No images and masks folders of {description.name!r} ({description.source}) under "
            f"{str(base)!r}: expected one of the layouts {shapes} (also with val/ and test/), "
            f"but {_describe(base)}. Move the folders into one of these layouts, or name them in "
            "the description's splits: key (docs/datasets.md).")
    shape, splits = folders.splits_at(found)
    parts = tuple(FolderPair(role, f"{role} ({_relative(found, s.images).rstrip('/')})",
                             s.images, s.masks) for role, s in splits.items())
    return _complete(DataLayout(found, description, parts))


def _complete(layout: DataLayout) -> DataLayout:
    """Training needs a train and a val split, each with its masks."""
    for role in ("train", "val"):
        if not layout.split(role):
            found = sorted({p.split for p in layout.parts})
            raise MapSageError(
                f"Data set root {str(layout.root)!r} ({layout.description.name}) has no {role} "
                f"split (found {', '.join(found) or 'none'}). Training needs both a train and a "
                "val split with masks; a test split without masks cannot be used for validation.")
    for part in layout.parts:
        if part.split != "test" and (part.masks is None or not part.masks.is_dir()):
            where = f" in {str(part.masks)!r}" if part.masks else ""
            raise MapSageError(
                f"{str(part.images)!r} ({part.label}) has no masks folder{where}: the "
                f"{part.split} split needs one mask per image"
                + (f" (LoveDA keeps them in {MASKS}/ beside {IMAGES}/)."
                   if layout.description.layout == LOVEDA.layout else
                   " (a masks/, ann_dir/ or labels/ folder in the same layout)."))
    return layout
