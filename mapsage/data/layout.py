"""Find the LoveDA folder layout under a root, as LoveDA publishes it.

    <root>/Train/{Urban,Rural}/{images_png,masks_png}/*.png
    <root>/Val/{Urban,Rural}/{images_png,masks_png}/*.png

Archives unpack in more than one way, so a split may also sit one level deeper
(``Train/Train/Urban/...``) and the root itself may be a parent of the real root
(``/kaggle/input/datasets/alice/loveda/LoveDA/Train/...``). Where the root is, is decided by
:func:`envcheck.loveda.find_root`, the same search envcheck's preflight uses, so preflight and
training always agree. Only the standard library is used, so this runs before anything heavy is
imported (the notebook and Kaggle data discovery call it first).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from envcheck.loveda import (
    DOMAINS,
    IMAGES,
    MASKS,
    MAX_DEPTH,
    MAX_DIRS,
    SPLITS,
    find_root,
    split_dir,
    walk,
)
from mapsage.errors import MapSageError

SHOWN = 16  # entries the "no LoveDA layout" message lists


@dataclass(frozen=True)
class DomainDir:
    split: str
    domain: str
    path: Path  # the folder holding images_png/ and masks_png/

    @property
    def images(self) -> Path:
        return self.path / IMAGES

    @property
    def masks(self) -> Path:
        return self.path / MASKS


@dataclass(frozen=True)
class LoveDALayout:
    root: Path
    domains: tuple[DomainDir, ...]

    def split(self, name: str) -> tuple[DomainDir, ...]:
        return tuple(d for d in self.domains if d.split == name)


def _domains_at(root: Path) -> tuple[DomainDir, ...]:
    found = []
    for split in SPLITS:
        base = split_dir(root, split)
        if base is None:
            continue
        for domain in DOMAINS:
            if (base / domain / IMAGES).is_dir():
                found.append(DomainDir(split, domain, base / domain))
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
                 "tools/dataset_converters/loveda.py writes, which MapSage does not read")
    return text


def _relative(root: Path, folder: Path) -> str:
    relative = folder.relative_to(root).as_posix()
    return "./" if relative == "." else f"{relative}/"


def find_loveda(root: str | Path) -> LoveDALayout:
    """Locate Train and Val under ``root`` (or up to ``envcheck.loveda.MAX_DEPTH`` folders below
    it) or raise a clear error."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise MapSageError(
            f"data_root {str(root)!r} does not exist or is not a folder. Point data_root at the "
            "folder that holds LoveDA's Train/ and Val/ folders, or use data_root='synthetic' "
            "for the bundled demo data (`mapsage synth DIR` writes it)."
        )
    found = find_root(root)
    if found is not None:
        return _complete(LoveDALayout(found, _domains_at(found)))
    raise MapSageError(
        f"No LoveDA layout under data_root {str(root)!r}: expected "
        "Train/{Urban,Rural}/{images_png,masks_png} and Val/{Urban,Rural}/{images_png,masks_png}, "
        f"but {_describe(root)}. Unpack LoveDA's Train.zip and Val.zip into one folder and point "
        "data_root at it."
    )


def _complete(layout: LoveDALayout) -> LoveDALayout:
    for split in SPLITS:
        if not layout.split(split):
            raise MapSageError(
                f"LoveDA root {str(layout.root)!r} has no {split}/ split (found "
                f"{', '.join(sorted({d.split for d in layout.domains}))}). Training needs both "
                "Train/ and Val/; LoveDA's Test split has no masks and cannot be used for "
                "validation."
            )
    for d in layout.domains:
        if not d.masks.is_dir():
            raise MapSageError(
                f"{str(d.images)!r} has no sibling {MASKS}/ folder: LoveDA keeps the masks of "
                f"{d.split}/{d.domain} in {str(d.masks)!r}."
            )
    return layout
