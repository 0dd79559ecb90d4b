"""Kaggle-only facts: attached input data sets (LoveDA? checkpoints? an mmcv wheelhouse?) and
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

from envcheck import loveda, ops_target, session, walk
from envcheck.errors import FirstChecksFailed  # the root of the one exception hierarchy
from envcheck.facts import InputDataset
from envcheck.kaggle_paths import KAGGLE_INPUT

_MAX_DIRS = 2000  # per data set: attached inputs can be large; the scan must stay fast
_OWNER_LAYOUTS = ("datasets", "notebooks", "models")  # <kind>/<owner>/<slug> mounts


def internet_reachable(host: str = "pypi.org", port: int = 443,
                       timeout: float = 1.5) -> tuple[bool, str]:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True, f"connected to {host}:{port}"
    except OSError as exc:
        return False, f"cannot connect to {host}:{port} ({type(exc).__name__}: {exc})"


def _scan(dataset: Path, depth_below_root: int) -> InputDataset | None:
    """What one attached input holds: LoveDA (found by the search training uses, with the depth
    it has left below the input root), ``.pth`` checkpoints, mmcv wheels (found as deep as
    training's file search, :data:`envcheck.walk.FILE_DEPTH`, reaches)."""
    loveda_root = loveda.find_root(dataset, max_depth=walk.MAX_DEPTH - depth_below_root)
    kinds: list[str] = []
    notes: list[str] = []
    checkpoints: list[str] = []
    wheels: list[str] = []
    def unlistable(folder: Path, exc: OSError) -> None:
        notes.append(f"cannot list {folder}: {exc.strerror}")

    depth_left = walk.FILE_DEPTH - depth_below_root
    for _, _, entries in walk.walk(dataset, depth_left, _MAX_DIRS, on_error=unlistable):
        for entry in entries:
            if entry.is_dir():
                continue
            if entry.name.endswith(".pth"):
                checkpoints.append(os.path.relpath(entry.path, dataset))
            elif entry.name.startswith("mmcv-") and entry.name.endswith(".whl"):
                wheels.append(os.path.relpath(entry.path, dataset))
    if loveda_root is not None:
        kinds.append("loveda")
        missing = [s for s in loveda.SPLITS if s not in loveda.splits_at(loveda_root)]
        notes.insert(0, f"LoveDA at {loveda_root}" + (f" (no {', '.join(missing)} split)"
                                                      if missing else ""))
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
    """Attached inputs under ``root`` that hold LoveDA, ``.pth`` checkpoints or mmcv wheels.

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


def first_checks(data_root: str, *, input_root: str | Path, working_dir: str | Path,
                 device: str = "auto", loveda_source: str | None = None,
                 internet=internet_reachable) -> list[FirstCheck]:
    """What can be known in seconds before anything is installed: LoveDA (by the search training
    uses), GPU and compute capability, disk room, the internet when a build would be needed, and
    the session time already spent."""
    from envcheck.compat import DISK_ERROR_GIB, DISK_WARNING_GIB

    input_root, working_dir = Path(input_root), Path(working_dir)
    checks = []
    attach = (f"attach the data set {loveda_source} (notebook editor: Add Input, or "
              "dataset_sources in kernel.json)" if loveda_source else
              "attach a LoveDA data set (notebook editor: Add Input)")
    if data_root == "synthetic":
        checks.append(FirstCheck("loveda", "info", "data_root='synthetic': the demo data set"))
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
