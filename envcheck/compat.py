"""The compatibility table: what works with what, as data (rows), versioned.

``rules.py`` evaluates these rows against gathered facts; nothing here looks at the machine. When
a row changes, bump ``TABLE_VERSION`` (it is printed in every report and in ``--json``), and add a
case to the fault matrix in ``tests/unit/envcheck/test_envcheck_rules.py``.

Sources:
- mmseg 1.2.2 ``mmseg/__init__.py``: ``MMCV_MIN = '2.0.0rc4'``, ``MMCV_MAX = '2.2.0'``,
  ``MMENGINE_MIN = '0.5.0'``, ``MMENGINE_MAX = '1.0.0'`` (asserted at ``import mmseg``);
- mmcv 2.1.0 metadata: ``Requires-Dist: mmengine>=0.3.0``;
- OpenMMLab's prebuilt-wheel matrix, mmcv ``docs/en/_static/version.json`` (Linux rows);
- torch 2.6 made ``torch.load(weights_only=True)`` the default; mmengine <= 0.10.7 calls
  ``torch.load`` without the argument, and its checkpoints carry ``HistoryBuffer`` objects;
- setuptools 82 removed ``pkg_resources``, which mmcv's ``setup.py`` imports.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from envcheck.version import try_parse

TABLE_VERSION = "2026.11.1"

# The mmcv MapSage is built and tested with. Not in requirements-lock.txt (no PyPI wheel exists;
# `python -m mapsage.provision` installs it), so it lives here.
PROJECT_MMCV = "2.1.0"
# The newest Python mmcv 2.1.0's sdist builds on: its setup.py reads its version with exec() into
# locals(), which Python 3.13 made a snapshot (PEP 667), so pip fails already at reading the sdist's
# metadata (KeyError: '__version__'), before anything MapSage could patch. Measured 2026-12-06.
MMCV_SDIST_MAX_PYTHON = (3, 12)
# sha256 of PyPI's mmcv-2.1.0.tar.gz (the only file PyPI has for it): the source build downloads
# it with pip's --require-hashes, so a changed or substituted sdist is refused before it runs.
PROJECT_MMCV_SDIST_SHA256 = "d387bcab66b467479b6660310e23746cfc79c6e57acf04094680adb499a5cd3f"
# The OpenMMLab pins used when no requirements-lock.txt is found (e.g. a Kaggle kernel without
# the repository). tests/unit/envcheck/test_envcheck_compat.py keeps them equal to the lock.
FALLBACK_PINS = {"mmengine": "0.10.7", "mmsegmentation": "1.2.2"}
# Lock pins that apply on every platform; the rest of the lock applies on local and CI only
# (Kaggle ships its own torch, numpy, ...).
OPENMMLAB = ("mmcv", "mmengine", "mmsegmentation")
PYTHON_REQUIRES = ">=3.10"  # pyproject.toml requires-python

# import name -> the distributions that may provide it (the first is the one MapSage wants)
PROVIDERS = {
    "torch": ("torch",),
    "numpy": ("numpy",),
    "mmcv": ("mmcv", "mmcv-full", "mmcv-lite"),
    "mmengine": ("mmengine", "mmengine-lite"),
    "mmseg": ("mmsegmentation",),
}

PREBUILT_INDEX = "https://download.openmmlab.com/mmcv/dist/{cuda}/torch{torch}/index.html"


@dataclass(frozen=True)
class Requires:
    """When ``package`` is installed at ``versions``, ``needs`` must be at ``needs_versions``."""

    id: str
    package: str
    versions: str
    needs: str
    needs_versions: str
    why: str


REQUIRES: tuple[Requires, ...] = (
    Requires("compat.mmseg-mmcv", "mmsegmentation", ">=1.2.0,<1.3", "mmcv", ">=2.0.0rc4,<2.2.0",
             "mmseg 1.2.x asserts 2.0.0rc4 <= mmcv < 2.2.0 when it is imported: with mmcv 2.2.0 "
             "`import mmseg` fails with 'MMCV==2.2.0 is used but incompatible'."),
    Requires("compat.mmseg-mmengine", "mmsegmentation", ">=1.2.0,<1.3", "mmengine",
             ">=0.5.0,<1.0.0",
             "mmseg 1.2.x asserts 0.5.0 <= mmengine < 1.0.0 when it is imported."),
    Requires("compat.mmcv-mmengine", "mmcv", ">=2.0.0rc1,<3", "mmengine", ">=0.3.0",
             "mmcv 2.x is built on mmengine >= 0.3.0 (its Requires-Dist)."),
)


@dataclass(frozen=True)
class Breakage:
    """A known-bad combination: every (package, versions) in ``when`` holds.

    ``severity`` applies by default; ``relaxed`` applies instead when the named condition
    (evaluated in rules.py, see ``rules.CONDITIONS``) holds.
    """

    id: str
    when: tuple[tuple[str, str], ...]
    severity: str
    why: str
    relaxed_if: str | None = None
    relaxed: str | None = None


BREAKAGES: tuple[Breakage, ...] = (
    Breakage("compat.torch-checkpoint", (("torch", ">=2.6"), ("mmengine", "<=0.10.7")),
             "warning",
             "torch >= 2.6 loads with weights_only=True by default and mmengine <= 0.10.7 does not "
             "say otherwise, so loading an mmengine checkpoint (resume, load_from) outside "
             "MapSage's loader fails with 'Unsupported global: "
             "mmengine.logging.history_buffer.HistoryBuffer'.",
             relaxed_if="mapsage_loader", relaxed="info"),
    Breakage("compat.setuptools-82", (("setuptools", ">=82"),), "error",
             "setuptools 82 removed pkg_resources, which mmcv's setup.py imports: building mmcv "
             "from source fails with \"No module named 'pkg_resources'\" (mmengine's "
             "`mmseg::` config lookups use it too).",
             relaxed_if="no_source_build", relaxed="warning"),
)


@dataclass(frozen=True)
class PrebuiltWheels:
    """OpenMMLab publishes mmcv ``mmcv`` wheels for torch ``torch`` (minor series) and these
    CUDA versions ("cpu" for CPU-only), for these Pythons (None: not recorded here)."""

    mmcv: str
    torch: str
    cuda: tuple[str, ...]
    pythons: tuple[str, ...] | None = None
    system: str = "linux"


_PY38_311 = ("3.8", "3.9", "3.10", "3.11")  # torch 2.0/2.1 have no wheels for 3.12
PREBUILT: tuple[PrebuiltWheels, ...] = (
    PrebuiltWheels("2.1.0", "2.1", ("cpu", "11.8", "12.1"), _PY38_311),
    PrebuiltWheels("2.1.0", "2.0", ("cpu", "11.7", "11.8"), _PY38_311),
    PrebuiltWheels("2.2.0", "2.4", ("cpu", "11.8", "12.1")),
    PrebuiltWheels("2.2.0", "2.3", ("cpu", "11.8", "12.1")),
    PrebuiltWheels("2.2.0", "2.2", ("cpu", "11.8", "12.1")),
    PrebuiltWheels("2.2.0", "2.1", ("cpu", "11.8", "12.1"), _PY38_311),
    PrebuiltWheels("2.2.0", "2.0", ("cpu", "11.7", "11.8"), _PY38_311),
)

# Free space in the work dir: an mmcv source build needs ~3 GB, LoveDA ~8 GB unpacked, a b5
# checkpoint ~1 GB. Kaggle's /kaggle/working is capped at 20 GB.
DISK_ERROR_GIB = 1.0
DISK_WARNING_GIB = 5.0


def cuda_tag(cuda_version: str | None) -> str:
    """``"12.1"`` -> ``"cu121"``; None / "" / "cpu" -> ``"cpu"``."""
    if not cuda_version or cuda_version == "cpu":
        return "cpu"
    if cuda_version.startswith("cu"):
        return cuda_version
    major, _, minor = cuda_version.partition(".")
    return f"cu{major}{minor.split('.')[0] or '0'}"


def _cuda_key(cuda_version: str | None) -> str:
    if not cuda_version or cuda_version == "cpu":
        return "cpu"
    parts = cuda_version.removeprefix("cu").split(".")
    return ".".join(parts[:2])


def prebuilt_wheels(mmcv_version: str, torch_version: str, cuda_version: str | None, *,
                    python: str | None = None, system: str | None = None) -> PrebuiltWheels | None:
    """The table row saying OpenMMLab has a wheel for this combination, or None."""
    torch = try_parse(torch_version)
    mmcv = try_parse(mmcv_version)
    if torch is None or mmcv is None:
        return None
    python = python or f"{sys.version_info.major}.{sys.version_info.minor}"
    system = system or sys.platform
    cuda = _cuda_key(cuda_version)
    for row in PREBUILT:
        if (try_parse(row.mmcv) == mmcv.public and row.torch == torch.series(2)
                and cuda in row.cuda and system.startswith(row.system)
                and (row.pythons is None or python in row.pythons)):
            return row
    return None


def prebuilt_mmcv_index_url(mmcv_version: str, torch_version: str, cuda_version: str | None,
                            *, python: str | None = None, system: str | None = None) -> str | None:
    """OpenMMLab's find-links URL for this mmcv / torch / CUDA, only when the table lists a wheel.

    ``cuda_version`` is ``torch.version.cuda`` ("12.1"), or None / "cpu" for a CPU build.
    ``python`` ("3.11") and ``system`` (``sys.platform``) default to this interpreter's.
    """
    row = prebuilt_wheels(mmcv_version, torch_version, cuda_version, python=python, system=system)
    if row is None:
        return None
    return PREBUILT_INDEX.format(cuda=cuda_tag(cuda_version), torch=row.torch)


def mmcv_build_env(arch_list: str | None, jobs: int, *, cuda: bool) -> dict[str, str]:
    """The environment of mmcv's source build: compiled ops, CUDA ops when ``cuda`` (for exactly
    ``arch_list``, e.g. "7.5" or "6.0;7.5"; None: all of torch's architectures, slow), ``jobs``
    parallel compile jobs. The one definition: envcheck's by-hand remedy and
    ``python -m mapsage.provision`` both use it."""
    env = {"TORCH_CUDA_ARCH_LIST": arch_list} if cuda and arch_list else {}
    env["MMCV_WITH_OPS"] = "1"
    if cuda:
        env["FORCE_CUDA"] = "1"
    env["MAX_JOBS"] = str(max(1, int(jobs)))
    return env


def torch_cuda_arch_list(capabilities: list[tuple[int, int]]) -> str:
    """``[(7, 5)]`` -> ``"7.5"``; ``[(6, 0), (7, 5)]`` -> ``"6.0;7.5"`` (sorted, unique)."""
    return ";".join(f"{major}.{minor}" for major, minor in sorted(set(map(tuple, capabilities))))


def arch_name(capability: tuple[int, int]) -> str:
    return f"sm_{capability[0]}{capability[1]}"


def _arch_number(text: str) -> tuple[str, tuple[int, int], str] | None:
    kind, _, rest = text.partition("_")
    digits = rest.rstrip("abcdefghijklmnopqrstuvwxyz")
    if kind not in ("sm", "compute") or not digits.isdigit():
        return None
    major, minor = divmod(int(digits), 10)
    return kind, (major, minor), rest[len(digits):]


def arch_runs_on(archs: list[str], capability: tuple[int, int]) -> bool:
    """Can code compiled for ``archs`` (``sm_75`` cubins, ``compute_80`` PTX) run on a GPU of
    ``capability``? A cubin runs on the same major and an equal or higher minor; PTX is JIT
    compiled for any equal or newer GPU; ``sm_90a``-style arch-specific code only on exactly 9.0.
    """
    capability = tuple(capability)
    for text in archs:
        parsed = _arch_number(text)
        if parsed is None:
            continue
        kind, (major, minor), suffix = parsed
        if suffix:
            if (major, minor) == capability:
                return True
        elif kind == "sm" and major == capability[0] and minor <= capability[1] or kind == "compute" and (major, minor) <= capability:
            return True
    return False
