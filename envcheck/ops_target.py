"""Which compiled ops mmcv gets on this machine: one decision table, standard library only.

mmcv's ``setup.py`` compiles CUDA ops when torch sees a GPU or ``FORCE_CUDA=1``, else CPU ops;
torch's extension builder refuses an nvcc whose CUDA major differs from torch's. A CUDA build of
torch says nothing about the machine: PyPI's Linux torch is a CUDA build on a laptop without a
GPU or a toolkit too. So the choice is made from four facts, here, once, and everything that
builds or checks mmcv asks this table: provisioning (:mod:`mapsage.provision.mmcv`), envcheck's
``build.nvcc`` rule and the Kaggle first checks.

====================  ==========  =====================  ================  =====================
torch                 GPU seen    TORCH_CUDA_ARCH_LIST   nvcc (toolkit)    mmcv gets
====================  ==========  =====================  ================  =====================
CPU build             -           -                      -                 CPU ops
CUDA build            yes         set or not             same CUDA major   CUDA ops for the list,
                                                                           else the GPUs seen
CUDA build            yes         set or not             none / other      refused: the remedy
CUDA build            no          set                    same CUDA major   CUDA ops for the list
CUDA build            no          set                    none / other      refused: the remedy
CUDA build            no          not set                -                 CPU ops (``cpu-ops``)
====================  ==========  =====================  ================  =====================

Never "every architecture torch knows" (hours of nvcc). A refusal is decided before anything is
downloaded or compiled and names the fix (:attr:`OpsTarget.remedy`).

The toolkit is found the way torch's ``cpp_extension`` finds it (``CUDA_HOME``, ``CUDA_PATH``,
the ``nvcc`` on ``PATH``, ``/usr/local/cuda``), so the version checked is the one torch would use.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CUDA_HOME = "/usr/local/cuda"
ARCH_ENV = "TORCH_CUDA_ARCH_LIST"
_ARCH = re.compile(r"^\d+\.\d+(\+PTX)?$")
PYPI_NVCC_MAJOR = "13"
"""PyPI's ``nvidia-cuda-nvcc`` wheels carry a complete nvcc for this CUDA major only (the
``-cu12`` ones carry just ``ptxas``)."""
PYPI_TOOLKIT = ("cuda-toolkit[nvcc,cccl,crt,nvvm,cudart,cublas,cusparse,cusolver,cufft,curand]"
                "=={cuda}.*")


@dataclass(frozen=True)
class Toolkit:
    """The CUDA toolkit torch's extension builder would use."""

    nvcc: str | None  # path of nvcc; None when there is none
    version: str | None  # "12.8"; None without nvcc; "unusable (...)" when it does not answer
    found_by: str = ""  # how it was found: "$CUDA_HOME", "PATH", "/usr/local/cuda"

    def describe(self) -> str:
        if self.nvcc is None:
            return "no nvcc (checked $CUDA_HOME, $CUDA_PATH, PATH and /usr/local/cuda)"
        return f"nvcc {self.version} at {self.nvcc} (from {self.found_by})"


def _nvcc_version(nvcc: str, timeout: float) -> str:
    try:
        out = subprocess.run([nvcc, "--version"], capture_output=True, text=True,
                             timeout=timeout).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unusable ({type(exc).__name__})"
    m = re.search(r"release (\d+\.\d+)", out)
    return m.group(1) if m else "unknown"


def find_toolkit(environ: dict[str, str] | None = None, which=shutil.which,
                 timeout: float = 10.0) -> Toolkit:
    """The nvcc torch's ``cpp_extension`` would compile with, and its CUDA version."""
    environ = os.environ if environ is None else environ
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if environ.get(var):
            nvcc = Path(environ[var]) / "bin" / "nvcc"
            if not nvcc.exists():
                return Toolkit(None, None, f"${var}")
            return Toolkit(str(nvcc), _nvcc_version(str(nvcc), timeout), f"${var}")
    on_path = which("nvcc")
    if on_path:
        return Toolkit(on_path, _nvcc_version(on_path, timeout), "PATH")
    nvcc = Path(DEFAULT_CUDA_HOME) / "bin" / "nvcc"
    if nvcc.exists():
        return Toolkit(str(nvcc), _nvcc_version(str(nvcc), timeout), DEFAULT_CUDA_HOME)
    return Toolkit(None, None)


def cuda_major(version: str | None) -> str | None:
    if not version or not version[0].isdigit():
        return None
    return version.split(".")[0]


def parse_arch_list(text: str) -> tuple[str, list[str]]:
    """(normalised ``"6.0;7.5"``, the entries that are not ``X.Y`` or ``X.Y+PTX``)."""
    items = [a for a in re.split(r"[;\s]+", text.strip()) if a]
    bad = [a for a in items if not _ARCH.match(a)]
    ordered = sorted(set(items) - set(bad), key=lambda a: tuple(int(x) for x in
                                                                 a.split("+")[0].split(".")))
    return ";".join(ordered), bad


def arch_list_of(capabilities: list[tuple[int, int]]) -> str:
    """``[(7, 5), (6, 0)]`` -> ``"6.0;7.5"``."""
    return ";".join(f"{a}.{b}" for a, b in sorted({tuple(c) for c in capabilities}))


@dataclass(frozen=True)
class OpsTarget:
    """What mmcv's compiled ops should be here, and whether this machine can build them."""

    ops: str  # "cpu" | "cuda"
    arch_list: str  # TORCH_CUDA_ARCH_LIST of a CUDA build ("7.5", "6.0;7.5"); "" for CPU ops
    row: str  # the table row, for messages and tests
    why: str  # the row in words
    problem: str | None = None  # why a source build cannot run here; None when it can
    remedy: str | None = None

    @property
    def buildable(self) -> bool:
        return self.problem is None

    def refusal(self) -> str:
        """One paragraph: what is wrong and how to fix it."""
        return f"{self.problem}. {self.remedy}"


def _toolkit_remedy(torch_cuda: str, toolkit: Toolkit, cpu_way: str) -> str:
    major = cuda_major(torch_cuda)
    ways = [f"make a CUDA {major}.x toolkit the one torch finds (export CUDA_HOME=<its folder>, "
            "e.g. /usr/local/cuda-" + torch_cuda + "; torch looks at $CUDA_HOME, then the nvcc on "
            "PATH, then /usr/local/cuda)"]
    if major == PYPI_NVCC_MAJOR:
        ways.append("or install PyPI's CUDA 13 toolkit wheels (pip install "
                    f"'{PYPI_TOOLKIT.format(cuda=torch_cuda)}') and point CUDA_HOME at "
                    "site-packages/nvidia/cu13")
    else:
        ways.append(f"(PyPI's nvcc wheels are complete only for CUDA {PYPI_NVCC_MAJOR}: a CUDA "
                    f"{major} nvcc comes from NVIDIA's toolkit installer or your distribution)")
    if toolkit.version and cuda_major(toolkit.version):
        ways.append(f"or install a torch built for CUDA {cuda_major(toolkit.version)}, the "
                    "toolkit you have")
    ways.append(cpu_way)
    return "Fix: " + "; ".join(ways) + ". Then run `python -m mapsage.provision` again."


def decide(torch_cuda: str | None, capabilities: list[tuple[int, int]], toolkit: Toolkit,
           arch_env: str | None) -> OpsTarget:
    """The table above. ``torch_cuda``: ``torch.version.cuda`` (None for a CPU build);
    ``capabilities``: of the GPUs torch sees; ``arch_env``: ``$TORCH_CUDA_ARCH_LIST``."""
    if not torch_cuda:
        return OpsTarget("cpu", "", "cpu-torch", "torch is a CPU build: CPU ops")
    requested, bad = parse_arch_list(arch_env or "")
    if bad:
        return OpsTarget(
            "cuda", "", "bad-arch-list", f"{ARCH_ENV}={arch_env!r}",
            f"{ARCH_ENV}={arch_env!r} is not a list of compute capabilities ({', '.join(bad)})",
            "Fix: set it to capabilities such as '7.5' or '6.0;7.5;8.9' (add +PTX to one for "
            "newer GPUs), or unset it to build for the GPUs this machine has")
    if not capabilities and not requested:
        return OpsTarget("cpu", "", "no-gpu",
                         f"torch is a CUDA {torch_cuda} build but sees no GPU: CPU ops (set "
                         f"{ARCH_ENV} to build CUDA ops for GPUs elsewhere)")
    arch_list = requested or arch_list_of(capabilities)
    if capabilities:
        row, why = "gpu", (f"{len(capabilities)} GPU kind(s) seen: CUDA {torch_cuda} ops for "
                           f"{arch_list}" + (f" ({ARCH_ENV})" if requested else ""))
        cpu_way = ("or train on the CPU with CPU ops: hide the GPUs from torch "
                   "(CUDA_VISIBLE_DEVICES=) for the build and use device=cpu")
    else:
        row, why = "no-gpu-arch-list", (f"no GPU seen, {ARCH_ENV}={arch_list}: CUDA "
                                        f"{torch_cuda} ops for those")
        cpu_way = f"or unset {ARCH_ENV} to build CPU ops (no GPU here)"
    if cuda_major(toolkit.version) == cuda_major(torch_cuda):
        return OpsTarget("cuda", arch_list, row, why)
    found = ("no nvcc was found" if toolkit.nvcc is None else
             f"the toolkit torch would use is {toolkit.describe()}")
    problem = (f"mmcv's CUDA ops must be compiled with a CUDA {cuda_major(torch_cuda)}.x nvcc "
               f"(torch was built with CUDA {torch_cuda}; its extension builder refuses another "
               f"major version), but {found}")
    return OpsTarget("cuda", arch_list, row + "-no-toolkit", why, problem,
                     _toolkit_remedy(torch_cuda, toolkit, cpu_way))


def torch_cuda_without_import(find_spec=None) -> tuple[bool, str | None]:
    """(torch installed, its ``version.cuda``) read from ``torch/version.py``, without importing
    torch (the Kaggle first checks run before anything heavy)."""
    import importlib.util

    spec = (find_spec or importlib.util.find_spec)("torch")
    if spec is None or not spec.origin:
        return False, None
    try:
        text = (Path(spec.origin).parent / "version.py").read_text()
    except OSError:
        return True, None
    m = re.search(r"^cuda(?:\s*:\s*[^=]+)?\s*=\s*['\"]([^'\"]+)['\"]", text, re.M)
    return True, (m.group(1) if m else None)
