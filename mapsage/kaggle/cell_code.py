"""What MapSage's cells in a built notebook run on Kaggle, kept as Python (tested, linted): the
cells :mod:`mapsage.kaggle.cells` writes only call these with the build's values filled in.

The bundle cell cannot import anything of MapSage (it is what puts the code on the import path),
so it carries its own copy of :func:`_unpack_mapsage`'s source. Standard library only at import
time: the cells run before anything is installed.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import zipfile

from mapsage.kaggle_platform import input_dir, localize, working_dir


def _unpack_mapsage(sha256, bundle):
    if hashlib.sha256(bundle).hexdigest() != sha256:
        raise RuntimeError("The MapSage bundle in this notebook is corrupt (sha256 mismatch): "
                           "rebuild it with `mapsage build kaggle` and push again.")
    src = os.path.join("/tmp", "mapsage-src-" + sha256[:12])
    zipfile.ZipFile(io.BytesIO(bundle)).extractall(src)
    sys.path.insert(0, src)
    os.environ["PYTHONPATH"] = src + os.pathsep + os.environ.get("PYTHONPATH", "")
    print(f"MapSage code {sha256[:12]} unpacked to {src}")


def first_checks(data_root: str, *, device: str, loveda_source: str | None, dataset,
                 vouched: list[str] = ()) -> list:
    """The standard-library first checks of a run (:func:`envcheck.kaggle.run_first_checks`) on
    ``data_root`` as Kaggle sees it, after adding the sha256 of the mmcv wheels this notebook may
    install from its inputs (``vouched``) to those already trusted."""
    from envcheck.kaggle import VOUCHED_WHEELS_ENV, run_first_checks

    os.environ[VOUCHED_WHEELS_ENV] = " ".join(
        [*os.environ.get(VOUCHED_WHEELS_ENV, "").split(), *vouched])
    return run_first_checks(localize(data_root), input_root=input_dir(),
                            working_dir=working_dir(), device=device,
                            loveda_source=loveda_source, dataset=dataset)


def provision(also_for: list[tuple[int, int]] = ()) -> None:
    """mmcv and the pinned OpenMMLab stack, in a child process; with ``also_for`` (compute
    capabilities) its CUDA ops are built for those GPUs as well as this session's
    (``TORCH_CUDA_ARCH_LIST``), so that the wheel the session leaves serves them too."""
    from mapsage.provision.mmcv import provision_in_child

    if also_for:
        from envcheck.compat import torch_cuda_arch_list
        from envcheck.kaggle import gpus

        session = [tuple(int(x) for x in cap.split(".")) for _, cap in gpus()]
        if session:
            os.environ["TORCH_CUDA_ARCH_LIST"] = torch_cuda_arch_list(
                session + [tuple(c) for c in also_for])
            print("TORCH_CUDA_ARCH_LIST =", os.environ["TORCH_CUDA_ARCH_LIST"])
        else:
            print("no GPU in this session: mmcv gets CPU ops; also_for_gpus applies to GPU "
                  "sessions")
    provision_in_child(["--with-deps"])
