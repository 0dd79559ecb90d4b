"""Install mmcv 2.1.0 with compiled ops: ``python -m mapsage.provision``.

PyPI has no mmcv binary wheel and OpenMMLab's prebuilt 2.1.0 wheels stop at torch 2.1, so the
strategies are tried in this order, cheapest first:

1. **installed** - mmcv 2.1.0 is installed and ``mmcv._ext`` loads with this torch: nothing to do;
2. **wheelhouse** - a wheel built earlier for exactly this mmcv / Python / torch / CUDA (and GPU
   architecture) sits in the local wheelhouse or an attached Kaggle data set: installed offline
   (``pip install --no-index``) after its sha256 is checked;
3. **prebuilt** - OpenMMLab publishes a wheel for this torch/CUDA (envcheck's table says when);
4. **source** - build from the sdist: ``setuptools<82`` (mmcv's setup.py imports pkg_resources)
   and ninja first, no build isolation (it compiles against the installed torch), ``MAX_JOBS``
   capped by CPUs and free RAM (:func:`build_jobs`), CUDA ops only for this GPU's architecture
   (``TORCH_CUDA_ARCH_LIST``, or the one set in the environment), and the C++ standard the
   installed torch requires: when that is not mmcv's hard-coded c++17 (torch >= 2.14 needs
   c++20), the sdist is downloaded, unpacked and its setup.py patched
   (:mod:`mapsage.provision.cxx_standard`) before the wheel is built from that tree. The wheel is
   stored in the wheelhouse with what was patched, so the next setup on this machine skips the
   build, and MapSage prints the command that publishes it as a Kaggle data set.

Everything here uses the standard library and subprocesses, so it runs before (and without
importing) torch or mmcv in the calling process.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from envcheck.compat import PROJECT_MMCV as MMCV_VERSION  # envcheck decides, provision acts
from envcheck.compat import PROJECT_MMCV_SDIST_SHA256
from envcheck.ops_target import OpsTarget, Toolkit, decide, find_toolkit
from mapsage.errors import MapSageError
from mapsage.provision import cxx_standard, wheelhouse

PROGRESS_EVERY_S = 30.0
# Peak resident memory of one compile job, measured building mmcv 2.1.0: nvcc on a CUDA op with
# torch 2.14's headers ~1.5 GB (2.9 GB peak for 2 jobs), g++ on a CPU op ~1 GB. MAX_JOBS is
# capped so that the jobs fit in MemAvailable.
GB = 1024 ** 3
MEMORY_PER_JOB = {"cuda": int(1.5 * GB), "cpu": 1 * GB}

@dataclass(frozen=True)
class TorchFacts:
    torch: str
    cuda: str | None  # None for a CPU build
    capabilities: tuple[tuple[int, int], ...] = ()
    python: str | None = None  # "3.11" of the target interpreter; None = this one
    aten_header: str | None = None  # the __cplusplus lines of torch's ATen.h; None = unread

    def cxx_requirement(self) -> tuple[str, str]:
        """(C++ standard, why) mmcv's ops need with this torch."""
        return cxx_standard.required_standard(self.torch, self.aten_header)


@dataclass
class Step:
    strategy: str
    description: str
    command: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def shell(self) -> str:
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        return (prefix + " " if prefix else "") + " ".join(shlex.quote(c) for c in self.command)


def _python(python: str | None) -> str:
    return python or sys.executable


def _probe(python: str | None) -> tuple[dict[str, dict], str]:
    """envcheck's probe of ``python``'s torch, CUDA and mmcv (one subprocess, one script for
    both: envcheck decides what the environment needs, provisioning acts on the same facts).
    Returns its records by step and its stderr's tail."""
    from envcheck.probe import run_script

    records, result = run_script(_python(python), os.getcwd(), timeout=180)
    steps = {r["step"]: r for r in records if r.get("status") in ("ok", "error")}
    return steps, (result.stderr_tail or "").strip()


def _error(step: dict | None, fallback: str) -> str:
    text = (step or {}).get("error") or fallback
    return text.strip().splitlines()[-1] if text.strip() else fallback


def probe_torch(python: str | None = None) -> TorchFacts:
    """torch's version, CUDA, the visible GPUs' capabilities, the Python version and the C++
    standard torch's headers ask for, of the environment of ``python``."""
    steps, stderr = _probe(python)
    torch = steps.get("torch")
    if not torch or torch["status"] != "ok":
        raise MapSageError(
            "torch is not importable, and mmcv's compiled ops are built against it. Install the "
            "locked environment first (docs/setup.md: torch, then the lock)\n"
            + ((torch or {}).get("error") or stderr)[-800:]
        )
    data = torch["data"]
    gpus = (steps.get("cuda") or {}).get("data", {}).get("gpus", [])
    version = steps["python"]["data"]["version"]
    header = Path(data["file"]).parent / cxx_standard.ATEN_HEADER
    aten = None
    if header.is_file():
        aten = "".join(line for line in header.read_text(errors="replace").splitlines(True)
                       if "__cplusplus" in line)
    return TorchFacts(data["version"], data["cuda"],
                      tuple(sorted({tuple(g["capability"]) for g in gpus})),
                      ".".join(version.split(".")[:2]), aten)


def installed_mmcv(python: str | None = None,
                   target: OpsTarget | None = None) -> tuple[bool, str]:
    """(usable, explanation) for the mmcv installed next to ``python``: importable, the
    project's version, its compiled ops (``mmcv._ext``) loading with this torch, and, when
    ``target`` asks for CUDA ops, compiled with CUDA (CPU-only ops never serve a GPU)."""
    steps, _ = _probe(python)
    mmcv, ext = steps.get("mmcv"), steps.get("mmcv_ext")
    if not mmcv or mmcv["status"] != "ok":
        return False, f"no usable mmcv ({_error(mmcv, 'mmcv is not importable')})"
    if not ext or ext["status"] != "ok":
        return False, f"no usable mmcv ({_error(ext, 'its compiled ops do not load')})"
    ops_cuda = ext.get("data", {}).get("ops_cuda")
    if target is not None and target.ops == "cuda" and (not ops_cuda
                                                        or ops_cuda == "not available"):
        return False, ("the installed mmcv has CPU-only ops, and this machine needs CUDA ops "
                       f"({target.why})")
    version = mmcv["data"]["version"]
    if version == MMCV_VERSION:
        return True, f"mmcv {version} with compiled ops is installed"
    return False, f"mmcv {version} is installed; MapSage needs {MMCV_VERSION}"


def ops_target(facts: TorchFacts, toolkit: Toolkit | None = None,
               environ: dict[str, str] | None = None) -> OpsTarget:
    """envcheck's decision table (:mod:`envcheck.ops_target`) for these facts: CPU or CUDA ops,
    for which architectures, and whether this machine can build them."""
    environ = os.environ if environ is None else environ
    return decide(facts.cuda, list(facts.capabilities),
                  find_toolkit(environ) if toolkit is None else toolkit,
                  environ.get("TORCH_CUDA_ARCH_LIST"))


def wheel_key(facts: TorchFacts, target: OpsTarget) -> wheelhouse.WheelKey:
    tag = "cp" + facts.python.replace(".", "") if facts.python else wheelhouse.python_tag()
    return wheelhouse.WheelKey(MMCV_VERSION, tag, facts.torch, facts.cuda or "cpu",
                               target.arch_list if target.ops == "cuda" else "", target.ops)


def memory_available() -> int | None:
    """MemAvailable from /proc/meminfo in bytes (None where there is no such file)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def build_jobs(cpus: int, available: int | None, cuda: bool) -> tuple[int, str]:
    """Parallel compile jobs (MAX_JOBS): the CPUs, capped so every job fits in free RAM."""
    per_job = MEMORY_PER_JOB["cuda" if cuda else "cpu"]
    if available is None:
        return max(1, cpus), f"{cpus} CPUs (free RAM unknown)"
    by_memory = max(1, available // per_job)
    jobs = max(1, min(cpus, by_memory))
    return jobs, (f"{cpus} CPUs, {available / GB:.1f} GB free at "
                  f"~{per_job / GB:g} GB per {'nvcc' if cuda else 'g++'} job")


def search_roots(extra: list[Path] | None = None) -> list[Path]:
    """This machine's wheelhouse, the folders given (``--wheelhouse``) and, on Kaggle, the
    inputs (whose wheels must be vouched for: :func:`attached_inputs`)."""
    from mapsage import kaggle_platform

    roots = [wheelhouse.default_root(), *(extra or [])]
    if kaggle_platform.input_dir().is_dir():
        roots.append(kaggle_platform.input_dir())  # kernel outputs and data sets attached on Kaggle
    return roots


def attached_inputs() -> wheelhouse.Attached:
    """Kaggle's inputs as other people's folders, with the wheels this notebook vouches for."""
    from mapsage import kaggle_platform

    return wheelhouse.Attached.from_env([kaggle_platform.input_dir()])


def _bin_path(python: str | None) -> str:
    """PATH with the target interpreter's bin folder first, where pip puts ninja: torch's
    cpp_extension looks for ``ninja`` on PATH and compiles one file at a time without it."""
    return os.pathsep.join([str(Path(_python(python)).parent), os.environ.get("PATH", "")])


def sdist_requirement(folder: Path) -> Path:
    """A requirements file pinning the mmcv sdist to the sha256 MapSage holds
    (``compat.PROJECT_MMCV_SDIST_SHA256``): pip refuses any other file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mmcv-sdist.txt"
    path.write_text(f"mmcv=={MMCV_VERSION} --hash=sha256:{PROJECT_MMCV_SDIST_SHA256}\n")
    return path


def source_build_step(facts: TorchFacts, target: OpsTarget, jobs: int, out_dir: Path,
                      python: str | None = None, tree: Path | None = None) -> Step:
    """``pip wheel`` of mmcv: from the index's sdist (hash-checked), or from an unpacked
    (patched) ``tree`` of it. Never from pip's wheel cache (``--no-cache-dir``): a cached wheel
    knows nothing of FORCE_CUDA, the architectures or the torch it was compiled against."""
    from envcheck.compat import mmcv_build_env  # envcheck decides how the ops are built

    cuda = target.ops == "cuda"
    env = {**mmcv_build_env(target.arch_list or None, jobs, cuda=cuda), "PATH": _bin_path(python)}
    command = [_python(python), "-m", "pip", "wheel", "--no-build-isolation", "--no-deps",
               "--no-cache-dir"]
    command += (["-w", str(out_dir), str(tree)] if tree else
                ["--no-binary", "mmcv", "--require-hashes", "-w", str(out_dir),
                 "-r", str(sdist_requirement(out_dir / "requirements"))])
    what = (f"CUDA {facts.cuda} ops for {target.arch_list}" if cuda else
            "CPU ops" + (f", though torch is a CUDA {facts.cuda} build" if facts.cuda else ""))
    standard, _ = facts.cxx_requirement()
    return Step("source", f"build mmcv {MMCV_VERSION} from the sdist ({what}, {standard}, "
                f"{jobs} jobs)", command, env)


def source_steps(facts: TorchFacts, target: OpsTarget, jobs: int, build_dir: Path,
                 python: str | None = None) -> list[Step]:
    """The source build: tools first, then (when torch needs another C++ standard than mmcv's
    c++17) download, unpack and patch the sdist, then build the wheel into ``build_dir``.
    Refused before any step when this machine cannot build the ops ``target`` names."""
    if not target.buildable:
        raise MapSageError(target.refusal())
    from envcheck.compat import MMCV_SDIST_MAX_PYTHON

    version = tuple(int(x) for x in (facts.python or "0.0").split(".")[:2])
    if version > MMCV_SDIST_MAX_PYTHON:
        newest = ".".join(map(str, MMCV_SDIST_MAX_PYTHON))
        raise MapSageError(
            f"mmcv {MMCV_VERSION} cannot be built from its sdist on Python {facts.python}: its "
            "setup.py reads its version with exec() into locals(), which Python 3.13 changed "
            "(PEP 667), so pip fails already at reading the sdist's metadata (KeyError: "
            f"'__version__'). Make the environment with Python 3.10-{newest} (e.g. `make demo "
            f"PYTHON=python{newest}` on a fresh checkout), or attach a wheel built for this "
            "Python and torch elsewhere (--wheelhouse DIR).")
    py = _python(python)
    steps = [
        Step("source", "make sure setuptools < 82 (mmcv's setup.py imports pkg_resources)",
             [py, "-m", "pip", "install", "setuptools<82", "wheel"]),
        Step("source", "install ninja (parallel compilation; torch compiles serially without it)",
             [py, "-m", "pip", "install", "ninja"]),
    ]
    standard, why = facts.cxx_requirement()
    if not cxx_standard.needs_patch(standard):
        return [*steps, source_build_step(facts, target, jobs, build_dir, python)]
    sdist_dir, tree_dir = build_dir / "sdist", build_dir / "src"
    steps += [
        Step("source", f"download the mmcv {MMCV_VERSION} sdist ({why}; mmcv's setup.py says "
             f"{cxx_standard.DEFAULT_STANDARD})",
             [py, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
              "--no-build-isolation", "--no-cache-dir", "--require-hashes", "-d", str(sdist_dir),
              "-r", str(sdist_requirement(build_dir / "requirements"))]),
        Step("source", f"unpack it and patch setup.py to -std={standard}",
             [sys.executable, "-m", "mapsage.provision.sdist", str(sdist_dir), str(tree_dir),
              "--standard", standard]),
    ]
    tree = tree_dir / f"mmcv-{MMCV_VERSION}"
    return [*steps, source_build_step(facts, target, jobs, build_dir, python, tree)]


def build_record(facts: TorchFacts, build_dir: Path) -> dict:
    """What the wheel's manifest says about how it was built (standard, patch)."""
    from mapsage.provision.sdist import read_record

    standard, why = facts.cxx_requirement()
    record = read_record(build_dir / "src" / f"mmcv-{MMCV_VERSION}") or {
        "cxx_standard": standard, "setup_py_patch": []}
    return {**record, "cxx_standard_reason": why}


def plan(facts: TorchFacts, target: OpsTarget, *, installed: tuple[bool, str],
         roots: list[Path], jobs: int, build_dir: Path, python: str | None = None,
         attached: wheelhouse.Attached | None = None) -> tuple[list[Step], list[str]]:
    """The steps provisioning would take for these facts and ``target`` (:func:`ops_target`),
    and notes on what was ruled out. A source build this machine cannot do is refused here,
    before anything is downloaded (``MapSageError`` with the toolkit remedy)."""
    notes: list[str] = []
    ok, why = installed
    if ok:
        return [Step("installed", why)], notes
    notes.append(why)
    notes.append(f"ops: {target.why}")
    key = wheel_key(facts, target)
    hit, refused = wheelhouse.find(key, roots, attached)
    notes += [f"wheelhouse: refused {line}" for line in refused]
    py = _python(python)
    if hit is not None:
        return [Step("wheelhouse", f"install {hit.wheel} (sha256 and compiled ops verified)",
                     [py, "-m", "pip", "install", "--no-index", "--no-deps", "--force-reinstall",
                      str(hit.wheel)])], notes
    notes.append(f"wheelhouse: no wheel for {key.slug} under {', '.join(map(str, roots))}")
    from envcheck.compat import prebuilt_mmcv_index_url

    url = (prebuilt_mmcv_index_url(MMCV_VERSION, facts.torch, facts.cuda, python=facts.python)
           if target.ops == "cuda" or not facts.cuda else None)
    if url:
        return [Step("prebuilt", f"install OpenMMLab's prebuilt wheel from {url}",
                     [py, "-m", "pip", "install", "--no-deps", f"mmcv=={MMCV_VERSION}",
                      "-f", url])], notes
    notes.append(f"prebuilt: OpenMMLab has no mmcv {MMCV_VERSION} wheel for torch {facts.torch}"
                 f" / {'CUDA ' + facts.cuda if facts.cuda else 'CPU'}")
    return source_steps(facts, target, jobs, build_dir, python), notes


def run_step(step: Step, log=print) -> None:
    """Run one step, echoing its output, with an elapsed-time line every PROGRESS_EVERY_S."""
    log(f"$ {step.shell()}")
    started = time.perf_counter()
    proc = subprocess.Popen(step.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={**os.environ, **step.env})
    tail: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line.rstrip())
            del tail[:-40]
            if "is ignored: it is neither a file nor a directory" not in line:
                log("  " + line.rstrip())

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    while proc.poll() is None:
        reader.join(PROGRESS_EVERY_S)
        if not reader.is_alive():  # output closed: the process is exiting, no progress lines
            proc.wait()
        elif proc.poll() is None:
            log(f"  ... {step.strategy}: {step.description}: {time.perf_counter() - started:.0f}s "
                "elapsed")
    reader.join()
    if proc.returncode != 0:
        raise MapSageError(
            f"{step.description} failed (exit {proc.returncode}) after "
            f"{time.perf_counter() - started:.0f}s:\n  $ {step.shell()}\n" + "\n".join(tail[-15:])
        )
    log(f"  done in {time.perf_counter() - started:.1f}s")


def provision(*, python: str | None = None, extra_roots: list[Path] | None = None,
              jobs: int | None = None, allow_build: bool = True, dry_run: bool = False,
              kaggle_owner: str | None = None, log=print) -> str:
    """Make mmcv 2.1.0 with compiled ops importable; return the strategy that did it."""
    started = time.perf_counter()
    facts = probe_torch(python)
    target = ops_target(facts)
    if not jobs:
        jobs, why = build_jobs(os.cpu_count() or 1, memory_available(), target.ops == "cuda")
        log(f"  - compile jobs: {jobs} ({why})")
    with tempfile.TemporaryDirectory(prefix="mapsage-mmcv-") as tmp:
        steps, notes = plan(facts, target, installed=installed_mmcv(python, target),
                            roots=search_roots(extra_roots), jobs=jobs, build_dir=Path(tmp),
                            python=python, attached=attached_inputs())
        for note in notes:
            log(f"  - {note}")
        strategy = steps[-1].strategy
        log(f"mmcv {MMCV_VERSION} for torch {facts.torch} ({facts.cuda and 'CUDA ' + facts.cuda or 'CPU'}): "
            f"{strategy} - {steps[-1].description}")
        if strategy == "installed" or dry_run:
            for step in steps[: 0 if strategy == "installed" else None]:
                log(f"  would run: {step.shell()}")
            return strategy
        if strategy == "source" and not allow_build:
            raise MapSageError(
                f"mmcv {MMCV_VERSION} needs a source build here (about 9 minutes on 2 CPU cores), "
                "and --no-build was given. Run without --no-build, or attach a wheelhouse with "
                "--wheelhouse DIR."
            )
        for step in steps:
            run_step(step, log)
        if strategy == "source":
            built = sorted(Path(tmp).glob("mmcv-*.whl"))
            if not built:
                raise MapSageError(f"the mmcv build finished but left no wheel in {tmp}")
            entry = wheelhouse.store(built[0], wheel_key(facts, target),
                                     wheelhouse.default_root(), kaggle_owner,
                                     build=build_record(facts, Path(tmp)))
            log(f"  stored {entry.wheel} (sha256 {entry.sha256[:12]}...)")
            run_step(Step("source", "install the built wheel",
                          [_python(python), "-m", "pip", "install", "--no-index", "--no-deps",
                           "--force-reinstall", str(entry.wheel)]), log)
            from mapsage.kaggle_platform import wheel_reuse_hint

            log(wheel_reuse_hint(entry.wheel.parent))
    ok, why = installed_mmcv(python, target)
    if not ok:
        raise MapSageError(f"mmcv still unusable after '{strategy}': {why}")
    log(f"mmcv ready ({strategy}) in {time.perf_counter() - started:.1f}s")
    return strategy


def provision_in_child(argv: list[str], log=print) -> None:
    """``python -m mapsage.provision ARGV`` in a child process (what it installs never touches
    the calling interpreter's imports), its output printed line by line where the caller prints
    (a notebook cell shows it: a subprocess writing to the kernel's own stdout shows nowhere),
    with a progress line every PROGRESS_EVERY_S; a failure raises MapSageError with its end."""
    run_step(Step("provision", "provisioning (python -m mapsage.provision)",
                  [sys.executable, "-m", "mapsage.provision", *argv]), log)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mapsage.provision",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", help="interpreter whose environment gets mmcv (default: this)")
    parser.add_argument("--wheelhouse", action="append", type=Path, default=[],
                        help="extra folder to search for cached wheels (repeatable)")
    parser.add_argument("--jobs", type=int,
                        help="parallel compile jobs (default: CPUs, capped by free RAM)")
    parser.add_argument("--no-build", action="store_true", help="fail rather than build")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument("--kaggle-owner", help="Kaggle user name for the wheel's data set id")
    parser.add_argument("--with-deps", action="store_true",
                        help="also install the pinned mmengine/mmseg stack (for a Kaggle image)")
    parser.add_argument("--offline", action="store_true",
                        help="with --with-deps: install only from wheelhouse folders (no index)")
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)

    def run() -> int:
        from mapsage.provision.dependencies import PYTHON_WHEELS, install_dependencies

        if args.with_deps:
            # decide mmcv's plan first: a build this machine cannot do stops here, in seconds,
            # not after the dependencies are installed
            provision(python=args.python, extra_roots=args.wheelhouse, jobs=args.jobs or 1,
                      allow_build=not args.no_build, dry_run=True, log=lambda *_: None)
            install_dependencies(python=args.python, roots=search_roots(args.wheelhouse),
                                 offline=args.offline,
                                 keep_dir=wheelhouse.default_root() / PYTHON_WHEELS)
        provision(python=args.python, extra_roots=args.wheelhouse, jobs=args.jobs,
                  allow_build=not args.no_build, dry_run=args.dry_run,
                  kaggle_owner=args.kaggle_owner)
        return 0

    from mapsage.errors import guarded

    return guarded("mapsage provision", run, debug=args.debug)

if __name__ == "__main__":
    sys.exit(main())
