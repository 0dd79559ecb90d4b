"""What a data set is, as data: its classes, palette, file suffixes, label convention and (when
the search cannot find them) its split folders. LoveDA is one instance (:data:`LOVEDA`); any
other folder data set is described by a small YAML file, ``dataset.yaml`` beside the data
(see docs/datasets.md):

.. code-block:: yaml

    name: roofs                     # optional: the folder's name
    classes: [background, roof, tree]
    palette: [[0, 0, 0], [200, 30, 30], [30, 160, 60]]   # optional: derived
    img_suffix: .jpg                # default .png
    seg_map_suffix: .png            # default .png
    reduce_zero_label: false        # true: mask value 0 is "no data", classes are 1..N
    ignore_index: 255               # mask value that is not scored (default 255)
    splits:                         # optional: found by envcheck.folders' search
      train: {images: img_dir/train, masks: ann_dir/train}
      val: {images: img_dir/val, masks: ann_dir/val}
      test: {images: img_dir/test}

The file is not trusted: it is read with the strict safe YAML loader, every key and value is
checked (unknown keys, wrong types, a palette of the wrong length, a split folder outside the
data set) and refused with a :class:`~mapsage.errors.InputError` naming the value and the fix,
before anything is read or trained. Standard library and PyYAML only.
"""

from __future__ import annotations

import colorsys
import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from envcheck import walk
from mapsage.errors import InputError
from mapsage.yaml_strict import DuplicateKey, safe_load_strict

DESCRIPTION_FILE = "dataset.yaml"
"""The description's name beside the data (found at ``data_root`` or by the layout search)."""
LOVEDA_NAME = "loveda"
"""``dataset=`` value naming the built-in LoveDA description."""
SPLIT_ROLES = ("train", "val", "test")
MAX_CLASSES = 254  # masks are 8-bit PNGs; one value is the ignore index
MAX_BYTES = 64 * 1024  # a description is a few lines; a bigger file is not one


@dataclass(frozen=True)
class SplitSpec:
    images: str  # relative to the data set's root, POSIX separators
    masks: str | None = None


@dataclass(frozen=True)
class Description:
    """A data set's description. ``layout`` is ``"loveda"`` (LoveDA's own published layout,
    found by :mod:`envcheck.loveda`) or ``"folders"`` (one images and one masks folder per
    split: ``splits`` or :mod:`envcheck.folders`' search)."""
    name: str
    classes: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]
    img_suffix: str = ".png"
    seg_map_suffix: str = ".png"
    reduce_zero_label: bool = False
    ignore_index: int = 255
    splits: Mapping[str, SplitSpec] | None = None
    layout: str = "folders"
    source: str = "built in"  # where it was read: for messages
    base: Path | None = field(default=None, compare=False)
    """The folder ``splits`` are relative to (the description file's folder), if any."""

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def label_offset(self) -> int:
        """What is added to a class index (0..N-1) to get its value in a mask: 1 when 0 means
        no data (``reduce_zero_label``), else 0. Predictions are written back this way."""
        return 1 if self.reduce_zero_label else 0

    @property
    def mask_values(self) -> frozenset[int]:
        """Every value a mask may hold: the classes' values, 0 (no data) when
        ``reduce_zero_label``, and the ignore index."""
        values = set(range(self.label_offset + self.num_classes))
        return frozenset(values | {self.ignore_index})

    def metainfo(self) -> dict[str, Any]:
        """mmseg's ``metainfo`` for a ``BaseSegDataset``."""
        return dict(classes=list(self.classes), palette=[list(c) for c in self.palette])

    def as_dict(self) -> dict[str, Any]:
        """The description as its YAML keys (recorded in metrics.json and the Kaggle build)."""
        out: dict[str, Any] = dict(name=self.name, classes=list(self.classes),
                                   palette=[list(c) for c in self.palette],
                                   img_suffix=self.img_suffix, seg_map_suffix=self.seg_map_suffix,
                                   reduce_zero_label=self.reduce_zero_label,
                                   ignore_index=self.ignore_index)
        if self.splits:
            out["splits"] = {role: {k: v for k, v in vars(s).items() if v is not None}
                             for role, s in self.splits.items()}
        return out


LOVEDA = Description(
    name="LoveDA",
    # mmseg's LoveDADataset.METAINFO (mmseg/datasets/loveda.py), kept here so the light
    # layers (data check, report, Kaggle first checks) need not import mmseg
    classes=("background", "building", "road", "water", "barren", "forest", "agricultural"),
    palette=((255, 255, 255), (255, 0, 0), (255, 255, 0), (0, 0, 255), (159, 129, 183),
             (0, 255, 0), (255, 195, 128)),
    img_suffix=".png", seg_map_suffix=".png", reduce_zero_label=True, ignore_index=255,
    layout="loveda")

KEYS = ("name", "classes", "palette", "img_suffix", "seg_map_suffix", "reduce_zero_label",
        "ignore_index", "splits")
REQUIRED = ("classes",)


def derived_palette(count: int) -> tuple[tuple[int, int, int], ...]:
    """``count`` distinct colours, the same for the same count: evenly spaced hues at two
    lightnesses (so neighbours in the list differ), class 0 black-grey."""
    colours = [(40, 40, 40)]
    for i in range(1, count):
        hue = (i * 0.618033988749895) % 1.0  # golden-ratio steps: well spread for any count
        light = 0.45 if i % 2 else 0.62
        r, g, b = colorsys.hls_to_rgb(hue, light, 0.75)
        colours.append((round(r * 255), round(g * 255), round(b * 255)))
    return tuple(colours[:count])


def _bad(source: str, key: str, value: Any, expected: str, fix: str = "") -> InputError:
    return InputError(f"{source}: {key} = {value!r} is not {expected}." + (f" {fix}" if fix else ""))


def _suffix(source: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.startswith(".") or len(value) < 2 \
            or "/" in value or "\\" in value or "\0" in value or len(value) > 16:
        raise _bad(source, key, value, "a file suffix such as '.png' or '.jpg'",
                   f"Write e.g. {key}: .png")
    return value


def _relative(source: str, key: str, value: Any) -> str:
    """A folder inside the data set: relative, no '..', no empty or absolute path."""
    if not isinstance(value, str) or not value.strip() or "\0" in value or "\\" in value:
        raise _bad(source, key, value, "a folder path relative to the data set's root",
                   "Write e.g. img_dir/train.")
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts:
        raise _bad(source, key, value, "a folder inside the data set (relative, without '..')",
                   "Give the folder relative to the folder dataset.yaml is in.")
    return path.as_posix()


def _classes(source: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(c, str) and c.strip() for c in value):
        raise _bad(source, "classes", value, "a list of class names",
                   "Write e.g. classes: [background, building, road].")
    if not 2 <= len(value) <= MAX_CLASSES:
        raise InputError(f"{source}: classes has {len(value)} name(s); expected 2 to "
                         f"{MAX_CLASSES}. Segmentation needs at least two classes (e.g. "
                         "background and the object).")
    repeated = sorted({c for c in value if value.count(c) > 1})
    if repeated:
        raise InputError(f"{source}: classes names {', '.join(map(repr, repeated))} more than "
                         "once; give each class one name.")
    return tuple(value)


def _palette(source: str, value: Any, count: int) -> tuple[tuple[int, int, int], ...]:
    ok = isinstance(value, list) and all(
        isinstance(c, list) and len(c) == 3
        and all(type(v) is int and 0 <= v <= 255 for v in c) for c in value)
    if not ok:
        raise _bad(source, "palette", value, "a list of [R, G, B] colours (0-255 each)",
                   "Write e.g. palette: [[0, 0, 0], [255, 0, 0]], or leave palette out to have "
                   "one derived.")
    if len(value) != count:
        raise InputError(f"{source}: palette has {len(value)} colours but classes has {count} "
                         "names; give one colour per class, in the same order, or leave palette "
                         "out to have one derived.")
    return tuple(tuple(c) for c in value)


def _splits(source: str, value: Any) -> dict[str, SplitSpec]:
    if not isinstance(value, dict) or not value:
        raise _bad(source, "splits", value, "a mapping of train, val (and test) to folders",
                   "Write e.g. splits: {train: {images: img_dir/train, masks: ann_dir/train}, "
                   "val: {images: img_dir/val, masks: ann_dir/val}}.")
    unknown = [k for k in value if k not in SPLIT_ROLES]
    if unknown:
        raise _bad(source, "splits", unknown[0], "one of " + ", ".join(SPLIT_ROLES))
    out = {}
    for role, spec in value.items():
        if not isinstance(spec, dict) or "images" not in spec \
                or set(spec) - {"images", "masks"}:
            raise _bad(source, f"splits.{role}", spec, "a mapping with images (and masks)",
                       f"Write e.g. {role}: {{images: img_dir/{role}, masks: ann_dir/{role}}}.")
        masks = spec.get("masks")
        out[role] = SplitSpec(_relative(source, f"splits.{role}.images", spec["images"]),
                              None if masks is None else
                              _relative(source, f"splits.{role}.masks", masks))
    for role in ("train", "val"):
        if role not in out or out[role].masks is None:
            raise InputError(f"{source}: splits has no {role} with images and masks; training "
                             f"needs both train and val with masks (test may have none).")
    return out


def parse(data: Any, source: str, *, name: str = "dataset", base: Path | None = None,
          ) -> Description:
    """A :class:`Description` from the mapping ``data`` read from ``source``."""
    if not isinstance(data, dict):
        raise InputError(f"{source} is not a mapping of description keys ({', '.join(KEYS)}); "
                         "see docs/datasets.md for an example.")
    unknown = [k for k in data if k not in KEYS]
    if unknown:
        lines = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), KEYS, n=1)
            lines.append(repr(key) + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise InputError(f"{source}: unknown key(s) {', '.join(lines)}. Valid keys: "
                         f"{', '.join(KEYS)}.")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise InputError(f"{source} has no {' or '.join(missing)}: list the class names in mask "
                         "value order, e.g. classes: [background, building, road].")
    classes = _classes(source, data["classes"])
    palette = (derived_palette(len(classes)) if data.get("palette") is None
               else _palette(source, data["palette"], len(classes)))
    reduce = data.get("reduce_zero_label", False)
    if not isinstance(reduce, bool):
        raise _bad(source, "reduce_zero_label", reduce, "true or false",
                   "true when mask value 0 means 'no data' and the classes are 1..N.")
    ignore = data.get("ignore_index", 255)
    if type(ignore) is not int or not 0 <= ignore <= 255:
        raise _bad(source, "ignore_index", ignore, "a mask value 0..255", "Usually 255.")
    if reduce and ignore != 255:
        raise InputError(f"{source}: ignore_index = {ignore} with reduce_zero_label: true; mmseg "
                         "maps 0 to 255 and every other value v to v-1 there, so only 255 works "
                         "as the ignore index. Set ignore_index: 255.")
    top = len(classes) - 1 + (1 if reduce else 0)
    if ignore <= top:
        raise InputError(f"{source}: ignore_index = {ignore} is one of the class values (0..{top} "
                         f"for {len(classes)} classes{' and 0 = no data' if reduce else ''}); "
                         "pick a value no class uses, e.g. 255.")
    given_name = data.get("name", name)
    if not isinstance(given_name, str) or not given_name.strip() or len(given_name) > 100:
        raise _bad(source, "name", given_name, "a short name")
    return Description(
        name=given_name, classes=classes, palette=palette,
        img_suffix=_suffix(source, "img_suffix", data.get("img_suffix", ".png")),
        seg_map_suffix=_suffix(source, "seg_map_suffix", data.get("seg_map_suffix", ".png")),
        reduce_zero_label=reduce, ignore_index=ignore,
        splits=_splits(source, data["splits"]) if data.get("splits") is not None else None,
        layout="folders", source=source, base=base)


def read_file(path: str | Path) -> Description:
    """The description in the YAML file ``path`` (``splits`` relative to its folder)."""
    path = Path(path)
    source = f"Data set description {str(path)!r}"
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise InputError(f"{source} is {size} bytes; a description is a few lines (at most "
                             f"{MAX_BYTES}). Is it the right file?")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{source} cannot be read ({exc}). Give a readable UTF-8 YAML file "
                         "(see docs/datasets.md).") from None
    return parse(_yaml(text, source), source, name=path.parent.name or "dataset",
                 base=path.parent)


def read_inline(text: str) -> Description:
    """A description given as the text of a YAML mapping (``dataset='{classes: [a, b]}'``):
    for data that cannot hold a dataset.yaml (a Kaggle competition's input)."""
    source = "Parameter dataset (a description written inline)"
    return parse(_yaml(text, source), source)


def _yaml(text: str, source: str) -> Any:
    try:
        return safe_load_strict(text, source)
    except DuplicateKey as exc:
        raise InputError(str(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"{source} is not valid YAML{where}: "
                         f"{getattr(exc, 'problem', None) or exc}.") from None


def resolve(dataset: str | None, data_root: str | Path) -> Description:
    """The description the ``dataset`` parameter names, for data under ``data_root``:

    - None or ``"auto"``: the shallowest ``dataset.yaml`` at or below ``data_root`` (by the
      bounded walk every data search uses), else LoveDA;
    - ``"loveda"``: LoveDA;
    - text starting with ``{``: a description written inline (YAML flow mapping);
    - anything else: the path of a description file.
    """
    if dataset is None or dataset == "auto":
        found = next(walk.files_named(data_root, DESCRIPTION_FILE, max_depth=walk.MAX_DEPTH),
                     None) if Path(data_root).is_dir() else None
        return read_file(found) if found is not None else LOVEDA
    if dataset.strip().lower() == LOVEDA_NAME:
        return LOVEDA
    if dataset.lstrip().startswith("{"):
        return read_inline(dataset)
    path = Path(dataset).expanduser()
    if not path.is_file():
        raise InputError(f"Parameter dataset = {dataset!r}: no such file. Expected the path of a "
                         f"{DESCRIPTION_FILE} (see docs/datasets.md), 'loveda', 'auto', or a "
                         "description written inline such as '{classes: [background, roof]}'.")
    return read_file(path)

