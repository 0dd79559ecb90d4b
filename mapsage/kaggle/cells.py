"""The cells ``mapsage build kaggle`` puts in front of a notebook, in order: a Markdown
introduction (its text from :mod:`mapsage.kaggle.intro`), the code bundle (unpacked and checked
against its sha256; its code folded away, the payload on its last line), the standard-library
first checks, mmcv's provisioning and, in a continuation, the restore of the previous part.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import json

import nbformat

from envcheck.kaggle_paths import KAGGLE_WORKING
from mapsage import kaggle_platform
from mapsage.errors import MapSageError, MetadataError
from mapsage.kaggle import cell_code
from mapsage.kaggle.secrets import BUNDLE_TAG

INTRO_TAG = "mapsage-intro"
FIRST_CHECKS_TAG = "mapsage-first-checks"
PROVISION_TAG = "mapsage-provision"
RESTORE_TAG = "mapsage-continue"

UNPACK_HEADER = """\
# MapSage bundle: the project code this notebook runs (mapsage, envcheck, configs, the lock),
# carried inside the notebook so nothing is uploaded by hand. Built by `mapsage build kaggle`;
# the code is the base64 payload on the last line, checked against its sha256 before use.
import base64, hashlib, io, os, sys, zipfile


"""

HIDDEN_SOURCE = {"jupyter": {"source_hidden": True}, "_kg_hide-input": True}
"""Cell metadata that folds a cell's code away for readers: JupyterLab's ``source_hidden`` and
Kaggle's ``_kg_hide-input``. The cell still runs; its output stays visible."""

FIRST_CHECKS_CELL = '''\
# First checks, standard library only, in seconds and before anything is installed or built:
# the data set attached (found by the same search training uses), GPU and compute capability,
# disk room, the toolkit and the internet when mmcv would have to be built, session time spent.
# An error stops here. `vouched`: the mmcv wheels this notebook may install from its inputs (by
# sha256, from the downloaded output of the kernels it attaches; nothing else under /kaggle/input
# is installed), added to MAPSAGE_TRUSTED_WHEELS.
from mapsage.kaggle.cell_code import first_checks

_first_checks = first_checks({data_root!r}, device={device!r}, loveda_source={loveda_source!r},
                             dataset={dataset!r}, vouched={vouched!r})
'''

PROVISION_CELL = '''\
# mmcv 2.1.0 with compiled ops and the pinned OpenMMLab stack: from an attached wheelhouse data
# set when one fits (offline, seconds), else built once for this GPU (see the printed command
# that publishes the built wheel as a data set for the next run). Its output shows below.
from mapsage.kaggle.cell_code import provision

provision()
'''

ARCH_PROVISION_CELL = '''\
# mmcv 2.1.0 with compiled ops and the pinned OpenMMLab stack, its CUDA ops built for this
# session's GPUs and also for {shapes} (TORCH_CUDA_ARCH_LIST), so that the wheel this session
# leaves serves those machine shapes too.
from mapsage.kaggle.cell_code import provision

provision(also_for={capabilities!r})
'''

RESTORE_CELL = '''\
# Continuation of the Kaggle run {source}: its work_dir, mounted read-only under /kaggle/input
# through kernel_sources, is copied to this session's work_dir; training resumes there from the
# newest valid checkpoint (resume="auto"). Built by `mapsage build kaggle --continue-from`.
from mapsage.kaggle.restore_part import restore_previous_stage

_restored = restore_previous_stage({source!r}, {work_dir!r})
'''


def unpack_cell(payload: bytes) -> str:
    """The cell that unpacks the code bundle ``payload`` (after checking its sha256): its own
    copy of :func:`mapsage.kaggle.cell_code._unpack_mapsage`, the payload on its last line."""
    sha256, encoded = hashlib.sha256(payload).hexdigest(), base64.b64encode(payload).decode()
    return (UNPACK_HEADER + inspect.getsource(cell_code._unpack_mapsage) + "\n\n"
            f'_unpack_mapsage("{sha256}", base64.b64decode("{encoded}"))\n')


def first_checks_cell(run: dict, data_source: str | None, vouched: list[str]) -> str:
    """The first checks of the run ``run`` (validated parameters) on the data set
    ``data_source``, trusting the mmcv wheels whose sha256 are ``vouched``."""
    return FIRST_CHECKS_CELL.format(data_root=run["data_root"], device=run["device"],
                                    loveda_source=data_source, dataset=run["dataset"],
                                    vouched=list(vouched))


def provision_cell(spec: dict) -> str:
    """The provisioning cell; with ``also_for_gpus`` (Kaggle machine shapes) mmcv's CUDA ops are
    built for those GPUs as well as the session's."""
    shapes = spec.get("also_for_gpus") or []
    if not shapes:
        return PROVISION_CELL
    unknown = [s for s in shapes if s not in kaggle_platform.GPU_CAPABILITIES]
    if unknown:
        raise MetadataError(f"also_for_gpus {unknown} are not Kaggle GPU machine shapes: use "
                            f"{', '.join(kaggle_platform.GPU_CAPABILITIES)}")
    return ARCH_PROVISION_CELL.format(
        shapes=", ".join(shapes), capabilities=[kaggle_platform.GPU_CAPABILITIES[s] for s in shapes])


def restore_cell(continue_from: str, work_dir: str) -> str:
    """The notebook cell that brings the source's work_dir into this session."""
    working = KAGGLE_WORKING + "/"
    if not str(work_dir).startswith(working):
        raise MapSageError(
            f"work_dir {work_dir!r} is not under {working}: only that folder becomes the "
            "kernel's output, so a continuation could not find the checkpoints. Set work_dir "
            "under /kaggle/working (e.g. /kaggle/working/run).")
    return RESTORE_CELL.format(source=continue_from, work_dir=work_dir)


def insert_restore_cell(nb, continue_from: str, work_dir: str) -> None:
    """Put the restore cell right after the code bundle's cell (it needs the code, nothing else)."""
    cell = nbformat.v4.new_code_cell(restore_cell(continue_from, work_dir),
                                     metadata={"tags": [RESTORE_TAG]})
    cell["id"] = RESTORE_TAG
    tags = [c.get("metadata", {}).get("tags", []) for c in nb.cells]
    after = next((i for i, t in enumerate(tags) if BUNDLE_TAG in t), -1)
    nb.cells.insert(after + 1, cell)


def intro_cell(text: str) -> nbformat.NotebookNode:
    """The first cell: the Markdown introduction ``text``."""
    cell = nbformat.v4.new_markdown_cell(text, metadata={"tags": [INTRO_TAG]})
    cell["id"] = INTRO_TAG
    return cell


def tagged_code_cell(source: str, tag: str, index: int,
                     hidden: bool = False) -> nbformat.NotebookNode:
    metadata = {"tags": [tag], **(json.loads(json.dumps(HIDDEN_SOURCE)) if hidden else {})}
    cell = nbformat.v4.new_code_cell(source, metadata=metadata)
    cell["id"] = f"mapsage-{tag}-{index}"
    return cell
