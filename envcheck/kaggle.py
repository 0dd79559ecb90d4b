"""Kaggle-only facts: attached input data sets (LoveDA? a folder data set? checkpoints? an mmcv
wheelhouse?) and
whether the internet is reachable, and :func:`run_first_checks`, the seconds-long check a Kaggle
notebook runs before anything is installed or built. Standard library only.

The network is touched only by :func:`internet_reachable`, which envcheck calls only when the
platform is Kaggle (CI and laptops are never probed).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from envcheck import folders, loveda, ops_target, session, walk
from envcheck.errors import FirstChecksFailed  # the root of the one exception hierarchy
from envcheck.facts import InputDataset
from envcheck.kaggle_paths import KAGGLE, KAGGLE_INPUT, REHEARSAL_ROOT_ENV

_MAX_DIRS = 2000  # per data set: attached inputs can be large; the scan must stay fast
_OWNER_LAYOUTS = ("datasets", "notebooks", "models")  # <kind>/<owner>/<slug> mounts
DESCRIPTION_FILE = "dataset.yaml"  # a folder data set's description (mapsage.data.dataset)
LOVEDA_NAME = "loveda"  # the dataset parameter's value naming the built-in LoveDA description


def internet_reachable(host: str = "pypi.org", port: int = 443,
                       timeout: float = 1.5) -> tuple[bool, str]:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True, f"connected to {host}:{port}"
    except OSError as exc:
        return False, f"cannot connect to {host}:{port} ({type(exc).__name__}: {exc})"


def _scan(dataset: Path, depth_below_root: int) -> InputDataset | None:
    """What one attached input holds: LoveDA or a folder data set (a ``dataset.yaml``, or
    images and masks folders in one of :data:`envcheck.folders.SHAPES`; both found by the
    searches training uses, with the depth left below the input root), ``.pth`` checkpoints,
    mmcv wheels (found as deep as training's file search, :data:`envcheck.walk.FILE_DEPTH`,
    reaches)."""
    depth = walk.MAX_DEPTH - depth_below_root
    loveda_root = loveda.find_root(dataset, max_depth=depth)
    folders_root = folders.find_root(dataset, max_depth=depth) if loveda_root is None else None
    described: str | None = None
    kinds: list[str] = []
    notes: list[str] = []
    checkpoints: list[str] = []
    wheels: list[str] = []
    def unlistable(folder: Path, exc: OSError) -> None:
        notes.append(f"cannot list {folder}: {exc.strerror}")

    depth_left = walk.FILE_DEPTH - depth_below_root
    for _, here_depth, entries in walk.walk(dataset, depth_left, _MAX_DIRS, on_error=unlistable):
        for entry in entries:
            if entry.is_dir():
                continue
            if entry.name == DESCRIPTION_FILE and described is None and here_depth <= depth:
                described = entry.path  # the shallowest, as training's search finds it
            if entry.name.endswith(".pth"):
                checkpoints.append(os.path.relpath(entry.path, dataset))
            elif entry.name.startswith("mmcv-") and entry.name.endswith(".whl"):
                wheels.append(os.path.relpath(entry.path, dataset))
    if loveda_root is not None:
        kinds.append("loveda")
        missing = [s for s in loveda.SPLITS if s not in loveda.splits_at(loveda_root)]
        notes.insert(0, f"LoveDA at {loveda_root}" + (f" (no {', '.join(missing)} split)"
                                                      if missing else ""))
    if described is not None or folders_root is not None:
        kinds.append("dataset")
        where = []
        if described is not None:
            where.append(f"described by {described}")
        if folders_root is not None:
            shape, splits = folders.splits_at(folders_root)
            where.append(f"{shape.name} folders at {folders_root} (splits "
                         f"{', '.join(splits)})")
        notes.insert(1 if loveda_root else 0, "folder data set " + ", ".join(where))
    if checkpoints:
        kinds.append("checkpoint")
        shown = ", ".join(sorted(checkpoints)[:3]) + (" ..." if len(checkpoints) > 3 else "")
        notes.append(f"{len(checkpoints)} checkpoint(s): {shown}")
    if wheels:
        kinds.append("mmcv-wheel")
        notes.append(f"mmcv wheel(s): {', '.join(sorted(wheels)[:3])}")
    if not kinds:
        return None
    return InputDataset(str(dataset), kinds, "; ".join(notes),
                        str(loveda_root) if loveda_root else None)


def _datasets(root: Path) -> list[Path]:
    """Top-level folders of the input root; also ``datasets/<owner>/<slug>`` (likewise
    ``notebooks/`` and ``models/``) and ``competitions/<slug>`` layouts of newer Kaggle mounts."""
    out = []
    try:
        tops = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError:
        return out
    for top in tops:
        if top.name in _OWNER_LAYOUTS:
            for owner in sorted(p for p in top.iterdir() if p.is_dir()):
                out += sorted(p for p in owner.iterdir() if p.is_dir())
        elif top.name == "competitions":
            out += sorted(p for p in top.iterdir() if p.is_dir())
        else:
            out.append(top)
    return out


def scan_inputs(root: str | Path = KAGGLE_INPUT) -> list[InputDataset]:
    """Attached inputs under ``root`` that hold LoveDA, a folder data set, ``.pth`` checkpoints
    or mmcv wheels.

    LoveDA is located in each input with :func:`envcheck.loveda.find_root`, the search training
    runs from ``data_root=/kaggle/input``, given the depth left below ``root``: an input is
    marked ``loveda`` exactly when training would find LoveDA in it.
    """
    found = []
    root = Path(root)
    for dataset in _datasets(root):
        hit = _scan(dataset, len(dataset.relative_to(root).parts))
        if hit is not None:
            found.append(hit)
    return found


# --- the first cell of a Kaggle notebook: seconds, standard library, before any pip or build ---

@dataclass(frozen=True)
class FirstCheck:
    name: str
    severity: str  # "ok" | "info" | "warning" | "error"
    detail: str


def gpus() -> list[tuple[str, str]]:
    """(name, compute capability) of each GPU ``nvidia-smi`` lists; [] without a driver."""
    if not shutil.which("nvidia-smi"):
        return []
    try:
        proc = subprocess.run(["nvidia-smi", "--query-gpu=name,compute_cap",
                               "--format=csv,noheader"], capture_output=True, text=True,
                              timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if proc.returncode != 0:
        return []
    rows = [line.split(",") for line in proc.stdout.strip().splitlines() if "," in line]
    return [(name.strip(), cap.strip()) for name, cap in rows]


VOUCHED_WHEELS_ENV = "MAPSAGE_TRUSTED_WHEELS"
"""sha256 of the mmcv wheels a Kaggle notebook may install from its inputs, space-separated:
``mapsage build kaggle`` writes them into the notebook from the downloaded output of the kernels
it attaches (the bootstrap's ``bootstrap.json``), where the user chose to trust them."""


def wheel_attached(input_root: Path, environ: dict[str, str] | None = None) -> bool:
    """An mmcv wheel this notebook vouches for (:data:`VOUCHED_WHEELS_ENV`) is named by a
    ``manifest.json`` under the inputs.

    Whether its key fits this image is decided later by ``mapsage.provision``; this only tells
    whether a build (and so the internet and a toolkit) may be avoidable. An attached wheel
    nobody vouched for is never installed, so it does not count.
    """
    vouched = set((os.environ if environ is None else environ).get(VOUCHED_WHEELS_ENV,
                                                                   "").split())
    if not vouched or not input_root.is_dir():
        return False
    for manifest in walk.files_named(input_root, "manifest.json"):
        try:
            data = json.loads(manifest.read_text())
        except (OSError, UnicodeDecodeError, ValueError):
            continue  # not MapSage's: provisioning names it when it looks for wheels
        if isinstance(data, dict) and data.get("sha256") in vouched:
            return True
    return False


def toolkit_check(listed: list[tuple[str, str]], environ: dict[str, str] | None = None,
                  find_spec=None) -> FirstCheck:
    """When mmcv must be built here: envcheck's decision table (:mod:`envcheck.ops_target`) on
    torch's CUDA (read from ``torch/version.py``, not imported), the GPUs ``nvidia-smi`` lists,
    the toolkit torch would compile with and ``TORCH_CUDA_ARCH_LIST``. A build this image cannot
    do is an error here, in seconds, with the remedy."""
    environ = os.environ if environ is None else environ
    present, torch_cuda = ops_target.torch_cuda_without_import(find_spec)
    if not present:
        return FirstCheck("toolkit", "info", "torch is not installed yet: the build's toolkit "
                          "is checked by provisioning")
    capabilities = []
    for _, cap in listed:
        major, _, minor = cap.partition(".")
        if major.isdigit() and minor.isdigit():
            capabilities.append((int(major), int(minor)))
    toolkit = ops_target.find_toolkit(environ) if torch_cuda else ops_target.Toolkit(None, None)
    target = ops_target.decide(torch_cuda, capabilities, toolkit,
                               environ.get(ops_target.ARCH_ENV))
    if not target.buildable:
        return FirstCheck("toolkit", "error", target.refusal())
    return FirstCheck("toolkit", "ok", f"mmcv's build: {target.why}"
                      + (f"; {toolkit.describe()}" if target.ops == "cuda" else ""))


def _localized(path: str) -> str:
    """A ``/kaggle/...`` path mapped onto a rehearsal's stand-in root (``MAPSAGE_KAGGLE_ROOT``)."""
    root = os.environ.get(REHEARSAL_ROOT_ENV)
    if root and (path == KAGGLE or path.startswith(KAGGLE + "/")):
        return root + path[len(KAGGLE):]
    return path


def _names_splits(text: str) -> bool:
    """Whether a description's YAML text has a ``splits`` key (its folders named, not searched):
    read as text, as envcheck has no YAML parser (training reads the description strictly)."""
    return any(line.split("#")[0].strip().startswith("splits:") for line in text.splitlines()) \
        or ("splits" in text and text.lstrip().startswith("{"))


def folder_data_check(data_root: str, dataset: str | None, attach: str) -> FirstCheck | None:
    """The data check for a folder data set: one whose description is a ``dataset.yaml`` under
    ``data_root`` (the shallowest, as training finds it) or the ``dataset`` parameter (a file
    or a description written inline; anything but LoveDA). Its split folders are looked up by
    :mod:`envcheck.folders`, the search training uses, from the description's folder (or
    ``data_root`` for one written inline). None when the data set is LoveDA."""
    text = None
    if dataset is None or dataset.strip().lower() in ("auto", ""):
        found = next(walk.files_named(data_root, DESCRIPTION_FILE, max_depth=walk.MAX_DEPTH),
                     None) if Path(data_root).is_dir() else None
        if found is None:
            return None
        source, base = str(found), found.parent
    elif dataset.strip().lower() == LOVEDA_NAME:
        return None
    elif dataset.lstrip().startswith("{"):
        source, base, text = "the dataset parameter (written inline)", Path(data_root), dataset
    else:
        path = Path(_localized(dataset)).expanduser()
        if not path.is_file():
            return FirstCheck("data", "error", f"dataset = {dataset!r}: no such file; expected "
                              f"the path of a {DESCRIPTION_FILE} (docs/datasets.md), 'loveda', "
                              "or a description written inline")
        source, base = str(path), path.parent
    if text is None:
        try:
            text = Path(source).read_text(encoding="utf-8", errors="replace")[:65536]
        except OSError as exc:
            return FirstCheck("data", "error", f"cannot read the data set's description {source}"
                              f" ({exc.strerror})")
    if _names_splits(text):
        return FirstCheck("data", "info", f"folder data set described by {source}: its splits "
                          "name the folders (training checks them and every file)")
    root = folders.find_root(base)
    if root is None:
        shapes = "; ".join(f"{s.images.format(split='train', kind='images')} + "
                           f"{s.masks.format(split='train', kind='masks')}"
                           for s in folders.SHAPES)
        return FirstCheck(
            "data", "error",
            f"no images and masks folders under {base} for the data set described by {source} "
            f"(searched {walk.MAX_DEPTH} folders deep for {shapes}, also with val/ and test/): "
            f"{attach}, or lay its folders out in one of these shapes, then run again.")
    shape, splits = folders.splits_at(root)
    missing = [role for role in ("train", "val") if role not in splits]
    no_masks = [role for role in ("train", "val")
                if role in splits and splits[role].masks is None]
    problem = (f"it has no {' or '.join(missing)} split" if missing else
               f"the {' and '.join(no_masks)} split has no masks folder (masks/, labels/ or "
               "ann_dir/ in the same shape)" if no_masks else "")
    return FirstCheck(
        "data", "error" if problem else "ok",
        f"folder data set described by {source}: {shape.name} folders at {root} (splits "
        f"{', '.join(splits)})" + (f", but {problem}: {attach}" if problem else ""))


def first_checks(data_root: str, *, input_root: str | Path, working_dir: str | Path,
                 device: str = "auto", loveda_source: str | None = None,
                 dataset: str | None = None,
                 internet=internet_reachable) -> list[FirstCheck]:
    """What can be known in seconds before anything is installed: the data set (LoveDA, or a
    folder data set when a ``dataset.yaml`` is under ``data_root`` or ``dataset`` names another
    description: :func:`folder_data_check`; by the searches training uses), GPU and compute
    capability, disk room, the internet when a build would be needed, and the session time
    already spent. ``loveda_source`` is the Kaggle data set to attach (LoveDA's or another)."""
    from envcheck.compat import DISK_ERROR_GIB, DISK_WARNING_GIB

    input_root, working_dir = Path(input_root), Path(working_dir)
    checks = []
    attach = (f"attach the data set {loveda_source} (notebook editor: Add Input, or "
              "dataset_sources in kernel.json)" if loveda_source else
              "attach a LoveDA data set (notebook editor: Add Input)")
    folder_check = None if data_root == "synthetic" else folder_data_check(
        data_root, dataset, attach if loveda_source else
        "attach the data set (notebook editor: Add Input)")
    if data_root == "synthetic":
        checks.append(FirstCheck("loveda", "info", "data_root='synthetic': the demo data set"))
    elif folder_check is not None:
        checks.append(folder_check)
    else:
        found = loveda.find_root(data_root)
        if found is None:
            checks.append(FirstCheck(
                "loveda", "error",
                f"LoveDA not found under {data_root} (searched {walk.MAX_DEPTH} folders deep "
                f"for Train|Val/{{Urban,Rural}}/images_png): {attach}, then run again."))
        else:
            splits = loveda.splits_at(found)
            missing = [s for s in loveda.SPLITS if s not in splits]
            no_masks = [f"{split}/{d}" for split, folder in splits.items() for d in loveda.DOMAINS
                        if (folder / d / loveda.IMAGES).is_dir()
                        and not (folder / d / loveda.MASKS).is_dir()]
            problem = (f"it has no {' or '.join(missing)} split" if missing else
                       f"{', '.join(no_masks)} has no {loveda.MASKS}" if no_masks else "")
            checks.append(FirstCheck(
                "loveda", "error" if problem else "ok",
                f"LoveDA at {found}" + (f", but {problem}: {attach}" if problem else "")))
    listed = gpus()
    if listed:
        shown = ", ".join(f"{name} (compute capability {cap})" for name, cap in listed)
        checks.append(FirstCheck("gpu", "ok", f"{len(listed)} GPU(s): {shown}"))
    else:
        severity = "error" if device == "cuda" else "info"
        checks.append(FirstCheck(
            "gpu", severity, "no GPU (nvidia-smi lists none)" + (
                ", but device='cuda': turn on a GPU (Settings > Accelerator, or enable_gpu and "
                "machine_shape in kernel.json)" if severity == "error" else "")))
    try:
        free = shutil.disk_usage(working_dir).free / 2**30
    except OSError as exc:
        checks.append(FirstCheck("disk", "warning", f"cannot measure {working_dir}: {exc}"))
    else:
        severity = ("error" if free < DISK_ERROR_GIB else
                    "warning" if free < DISK_WARNING_GIB else "ok")
        checks.append(FirstCheck("disk", severity, f"{free:.1f} GiB free in {working_dir}"))
    if importlib.util.find_spec("mmcv") is not None:
        checks.append(FirstCheck("mmcv", "ok", "mmcv is installed (provisioning checks its ops)"))
    elif wheel_attached(input_root):
        checks.append(FirstCheck("mmcv", "ok", f"an mmcv wheel this notebook trusts is attached "
                                 f"under {input_root} (provisioning checks that its key fits)"))
    else:
        checks.append(toolkit_check(listed))
        ok, why = internet()
        checks.append(FirstCheck(
            "internet", "ok" if ok else "error",
            f"mmcv must be built here and the internet is {'on' if ok else 'off'} ({why})"
            + ("" if ok else ": turn it on (Settings > Internet), or attach the bootstrap "
               "kernel's output (kernel_sources) that holds a wheel for this image")))
    started, how = session.session_started_at()
    if started is None:
        checks.append(FirstCheck("time", "info", f"session time spent: unknown ({how})"))
    else:
        left = session.session_remaining()
        checks.append(FirstCheck(
            "time", "info", f"session running for {(time.time() - started) / 60:.1f} min; "
            f"about {left / 3600:.1f} h left for training (Kaggle's "
            f"{session.SESSION_LIMIT_S // 3600} h limit minus a "
            f"{session.SAFETY_MARGIN_S // 60} min margin)"))
    return checks


def run_first_checks(*args, **kwargs) -> list[FirstCheck]:
    """Print :func:`first_checks`; raise :class:`FirstChecksFailed` naming every error."""
    checks = first_checks(*args, **kwargs)
    marks = {"ok": "ok  ", "info": "info", "warning": "WARN", "error": "FAIL"}
    for check in checks:
        print(f"[{marks[check.severity]}] {check.name:>8}: {check.detail}", flush=True)
    errors = [c for c in checks if c.severity == "error"]
    if errors:
        raise FirstChecksFailed("\n".join(f"{c.name}: {c.detail}" for c in errors))
    return checks
