"""What envcheck knows about the machine: plain dataclasses, and the static (stdlib-only) part of
gathering them.

Rules only ever read a :class:`Facts`; tests build one by hand (``Facts(...)``, or
``Facts.from_dict`` on the ``facts`` object of a ``--json`` report). The heavy facts (torch, CUDA,
mmcv's compiled ops, nvcc, Kaggle inputs and internet) come from :mod:`envcheck.probe`.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import os
import platform as _platform
import re
import shutil
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from envcheck import lockfile
from envcheck.compat import PROVIDERS
from envcheck.kaggle_paths import KAGGLE_INPUT, KAGGLE_WORKING
from envcheck.lockfile import canonical

LOCK_NAME = "requirements-lock.txt"
KAGGLE_ENV_VARS = ("KAGGLE_KERNEL_RUN_TYPE", "KAGGLE_URL_BASE", "KAGGLE_DATA_PROXY_TOKEN")
KAGGLE_PATHS = (KAGGLE_INPUT, KAGGLE_WORKING)
NVIDIA_DRIVER_FILE = "/proc/driver/nvidia/version"




@dataclass
class Gpu:
    name: str
    capability: tuple[int, int]
    memory_gib: float | None = None


@dataclass
class TorchFacts:
    version: str
    cuda: str | None = None  # torch.version.cuda; None for a CPU build
    cudnn: int | None = None
    cuda_available: bool = False
    gpus: list[Gpu] = field(default_factory=list)
    arch_list: list[str] = field(default_factory=list)  # torch.cuda.get_arch_list()
    file: str | None = None


@dataclass
class MmcvFacts:
    version: str | None = None  # mmcv.__version__ as imported by the probe
    file: str | None = None
    ext_loaded: bool = False
    ext_error: str | None = None
    ext_file: str | None = None
    ops_cuda: str | None = None  # CUDA the ops were compiled with; None: compiled without CUDA
    compiler: str | None = None
    cuda_archs: list[str] | None = None  # sm_XX / compute_XX in mmcv._ext; None: not known
    archs_error: str | None = None  # why cuda_archs could not be read


@dataclass
class ImportedModule:
    """A module already in ``sys.modules`` of the process that runs envcheck."""

    version: str | None
    file: str | None = None


@dataclass
class ProbeResult:
    seconds: float = 0.0
    returncode: int | None = 0
    timed_out: bool = False
    timeout_s: float | None = None
    unfinished_step: str | None = None  # began but never reported: crashed or hung there
    completed: list[str] = field(default_factory=list)  # steps that reported ok or error
    errors: dict[str, str] = field(default_factory=dict)  # step -> exception + traceback tail
    stderr_tail: str = ""
    stderr_digest: str = ""  # the telling lines of stderr (see probe.stderr_digest)


@dataclass
class InputDataset:
    path: str
    kinds: list[str]  # "loveda", "checkpoint", "mmcv-wheel"
    detail: str = ""
    loveda_root: str | None = None


@dataclass
class KaggleFacts:
    input_root: str = KAGGLE_INPUT
    inputs: list[InputDataset] = field(default_factory=list)
    internet: bool | None = None  # None: not probed
    gpu_enabled: bool | None = None  # torch sees a GPU, or (torch unknown) a driver is loaded
    internet_detail: str = ""


@dataclass
class Facts:
    platform: str = "local"  # local | ci | kaggle
    platform_evidence: list[str] = field(default_factory=list)
    os: str = ""
    machine: str = ""
    python: str = ""
    executable: str = "python"
    cpu_count: int = 1
    dists: dict[str, str] = field(default_factory=dict)  # canonical name -> installed version
    # when the distributions behind torch/mmcv/mmengine/mmseg/numpy were (re)installed (epoch s,
    # their .dist-info's mtime), and when this process started: a package reinstalled since is
    # not what this process imported, even at the same version
    installed_at: dict[str, float] = field(default_factory=dict)
    process_started: float | None = None
    pkg_resources: bool = True
    imported: dict[str, ImportedModule] = field(default_factory=dict)
    mapsage_loader: bool = False  # mapsage.training.checkpoint.safe_load (the safe loader) is importable
    driver: str | None = None  # NVIDIA kernel driver version
    nvcc: str | None = None  # CUDA toolkit version of nvcc, e.g. "12.1"
    nvcc_path: str | None = None  # the nvcc torch's extension builder would use
    nvcc_found_by: str = ""  # "$CUDA_HOME", "PATH", "/usr/local/cuda"
    arch_env: str | None = None  # $TORCH_CUDA_ARCH_LIST
    work_dir: str = "."
    disk_free_bytes: int | None = None
    lock_path: str | None = None
    lock_pins: dict[str, str] = field(default_factory=dict)  # canonical name -> "==" version
    torch: TorchFacts | None = None
    mmcv: MmcvFacts | None = None
    imports: dict[str, str] = field(default_factory=dict)  # probe: mmengine/mmseg -> version
    probe: ProbeResult | None = None
    kaggle: KaggleFacts | None = None

    def dist(self, name: str) -> str | None:
        return self.dists.get(canonical(name))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Facts:
        data = dict(data)
        if data.get("torch") is not None:
            t = dict(data["torch"])
            t["gpus"] = [Gpu(g["name"], tuple(g["capability"]), g.get("memory_gib"))
                         for g in t.get("gpus", [])]
            data["torch"] = TorchFacts(**t)
        if data.get("mmcv") is not None:
            data["mmcv"] = MmcvFacts(**data["mmcv"])
        data["imported"] = {k: ImportedModule(**v) for k, v in data.get("imported", {}).items()}
        if data.get("probe") is not None:
            data["probe"] = ProbeResult(**data["probe"])
        if data.get("kaggle") is not None:
            k = dict(data["kaggle"])
            k["inputs"] = [InputDataset(**i) for i in k.get("inputs", [])]
            data["kaggle"] = KaggleFacts(**k)
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fact(s): {', '.join(sorted(unknown))}")
        return cls(**data)


# --- static gathering (standard library only, no subprocesses) -------------------------------


def detect_platform(environ: dict[str, str] | None = None,
                    exists=os.path.exists) -> tuple[str, list[str]]:
    """("kaggle" | "ci" | "local", the evidence that decided it)."""
    environ = os.environ if environ is None else environ
    evidence = [f"${name}" for name in KAGGLE_ENV_VARS if environ.get(name)]
    evidence += [path for path in KAGGLE_PATHS if exists(path)]
    if evidence:
        return "kaggle", evidence
    if environ.get("CI", "").lower() in ("true", "1", "yes"):
        return "ci", [f"$CI={environ['CI']}"]
    return "local", []


WATCHED = {d for providers in PROVIDERS.values() for d in providers}


_DIST_INFO = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)\.dist-info$")


def _name_version(dist) -> tuple[str | None, str | None]:
    """From the ``name-version.dist-info`` folder name when there is one (no METADATA parse:
    a Kaggle image has ~1000 distributions), else from the metadata."""
    path = getattr(dist, "_path", None)  # PathDistribution's folder; absent for other finders
    m = _DIST_INFO.match(path.name) if path is not None else None
    if m:
        return m["name"], m["version"]
    return dist.metadata["Name"], dist.version


def installed_distributions() -> tuple[dict[str, str], dict[str, float]]:
    """Every distribution on sys.path (for a name found twice, the one import would use), and
    the install time of the watched ones."""
    found: dict[str, str] = {}
    installed_at: dict[str, float] = {}
    for dist in importlib.metadata.distributions():
        raw, version = _name_version(dist)
        if not raw or not version or canonical(raw) in found:
            continue
        name = canonical(raw)
        found[name] = version
        path = getattr(dist, "_path", None)
        if name in WATCHED and path is not None:
            # an unreadable .dist-info gives no install time, so no claim is made about it
            with contextlib.suppress(OSError):
                installed_at[name] = os.stat(path).st_mtime
    return found, installed_at


def process_start_time(proc: str = "/proc") -> float | None:
    """When this process started (epoch seconds, +-1 s), from /proc; None elsewhere."""
    try:
        stat = Path(proc, "self", "stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22: starttime
        boot = next(int(line.split()[1]) for line in Path(proc, "stat").read_text().splitlines()
                    if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def imported_modules(modules: dict | None = None) -> dict[str, ImportedModule]:
    modules = sys.modules if modules is None else modules
    found = {}
    for name in PROVIDERS:
        module = modules.get(name)
        if module is None:
            continue
        version = getattr(module, "__version__", None)
        found[name] = ImportedModule(None if version is None else str(version),
                                     getattr(module, "__file__", None))
    return found


def mapsage_loader_available() -> bool:
    spec = importlib.util.find_spec("mapsage")  # top-level: locates without importing
    if spec is None or not spec.submodule_search_locations:
        return False
    return any((Path(p) / "training" / "checkpoint" / "safe_load.py").is_file()
               for p in spec.submodule_search_locations)


def nvidia_driver(path: str = NVIDIA_DRIVER_FILE) -> str | None:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return None
    m = re.search(r"Kernel Module\s+(?:for\s+\S+\s+)?([0-9][0-9.]+)", text)
    return m.group(1) if m else "unknown"


def find_lock(start: str | Path, name: str = LOCK_NAME) -> Path | None:
    """The nearest ``requirements-lock.txt`` in ``start`` or a parent folder."""
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def read_pins(path: str | Path) -> dict[str, str]:
    """canonical name -> version of a lock (pip-compile's or uv's universal format), for this
    interpreter and platform; :mod:`envcheck.lockfile` is the parser."""
    return lockfile.read_pins(path)


def lock_pins(path: str | Path) -> dict[str, str]:
    """The pins this environment should show: the lock's for this interpreter and platform, where
    the packages the lock holds only for torch (PyPI's CUDA runtime) count when the installed
    torch build requires them (a CPU build does not)."""
    return lockfile.expected_pins(lockfile.read(path),
                                  separately=lockfile.installed_separately())


def disk_free(path: str | Path) -> int | None:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def gather_static(work_dir: str | Path = ".", lock: str | Path | None = None,
                  environ: dict[str, str] | None = None) -> Facts:
    """Everything knowable without a subprocess or the network (well under 0.2 s)."""
    importlib.invalidate_caches()  # a pip install in this kernel since the last look
    platform, evidence = detect_platform(environ)
    work = Path(work_dir)
    # the work dir's, the current directory's, or the one beside this package (a checkout, or
    # the MapSage bundle a Kaggle notebook unpacks)
    lock_path = Path(lock) if lock else (find_lock(work) or find_lock(Path.cwd())
                                         or find_lock(Path(__file__).resolve().parent.parent))
    dists, installed_at = installed_distributions()
    return Facts(
        platform=platform,
        platform_evidence=evidence,
        os=_platform.platform(terse=True),
        machine=_platform.machine(),
        python=_platform.python_version(),
        executable=sys.executable or "python",
        cpu_count=os.cpu_count() or 1,
        dists=dists,
        installed_at=installed_at,
        process_started=process_start_time(),
        pkg_resources=importlib.util.find_spec("pkg_resources") is not None,
        imported=imported_modules(),
        mapsage_loader=mapsage_loader_available(),
        driver=nvidia_driver(),
        arch_env=(environ if environ is not None else os.environ).get("TORCH_CUDA_ARCH_LIST"),
        work_dir=str(work.resolve()),
        disk_free_bytes=disk_free(work),
        lock_path=str(lock_path) if lock_path else None,
        lock_pins=lock_pins(lock_path) if lock_path and lock_path.is_file() else {},
    )
