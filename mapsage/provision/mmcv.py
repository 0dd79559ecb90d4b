"""Install mmcv 2.1.0 with compiled ops: ``python -m mapsage.provision``.

PyPI has no mmcv binary wheel and OpenMMLab's prebuilt 2.1.0 wheels stop at torch 2.1, so the
strategies are tried in this order, cheapest first:

1. **installed** - mmcv 2.1.0 is installed and ``mmcv._ext`` loads with this torch: nothing to do;
2. **wheelhouse** - a wheel built earlier for exactly this mmcv / Python / torch / CUDA (and GPU
   architecture) sits in the local wheelhouse or an attached Kaggle data set: installed offline
   (``pip install --no-index``) after its sha256 is checked;
3. **prebuilt** - OpenMMLab publishes a wheel for this torch/CUDA (envcheck's table says when);
4. **source** - build from the sdist: ``setuptools<82`` (mmcv's setup.py imports pkg_resources),
   no build isolation (it compiles against the installed torch), ``MAX_JOBS`` = CPUs, CUDA ops
   only for this GPU's architecture (``TORCH_CUDA_ARCH_LIST``). The wheel is stored in the
   wheelhouse, so the next setup on this machine skips the build, and MapSage prints the command
   that publishes it as a Kaggle data set.

Everything here uses the standard library and subprocesses, so it runs before (and without
importing) torch or mmcv in the calling process.
"""

from __future__ import annotations

import argparse
import json
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
from mapsage.errors import MapSageError
from mapsage.provision import wheelhouse

PROGRESS_EVERY_S = 30.0

_TORCH_PROBE = """
import json, torch
caps = []
if torch.cuda.is_available():
    caps = sorted({torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())})
import sys
python = f"{sys.version_info.major}.{sys.version_info.minor}"
print(json.dumps({"torch": torch.__version__, "cuda": torch.version.cuda, "capabilities": caps,
                  "python": python}))
"""
_MMCV_PROBE = """
import importlib.metadata as md
version = md.version("mmcv")
import mmcv._ext  # the compiled ops; fails for mmcv-lite or a wheel built for another torch
print(version)
"""


@dataclass(frozen=True)
class TorchFacts:
    torch: str
    cuda: str | None  # None for a CPU build
    capabilities: tuple[tuple[int, int], ...] = ()
    python: str | None = None  # "3.11" of the target interpreter; None = this one


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


def probe_torch(python: str | None = None) -> TorchFacts:
    proc = subprocess.run([_python(python), "-c", _TORCH_PROBE], capture_output=True, text=True,
                          timeout=120)
    if proc.returncode != 0:
        raise MapSageError(
            "torch is not importable, and mmcv's compiled ops are built against it. Install the "
            "locked environment first: pip install -r requirements-lock.txt\n"
            + proc.stderr.strip()[-800:]
        )
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return TorchFacts(data["torch"], data["cuda"], tuple(tuple(c) for c in data["capabilities"]),
                      data["python"])


def installed_mmcv(python: str | None = None) -> tuple[bool, str]:
    """(usable, explanation) for the mmcv installed next to ``python``."""
    proc = subprocess.run([_python(python), "-c", _MMCV_PROBE], capture_output=True, text=True,
                          timeout=120)
    if proc.returncode == 0:
        version = proc.stdout.strip().splitlines()[-1]
        if version == MMCV_VERSION:
            return True, f"mmcv {version} with compiled ops is installed"
        return False, f"mmcv {version} is installed; MapSage needs {MMCV_VERSION}"
    last = (proc.stderr.strip().splitlines() or ["?"])[-1]
    return False, f"no usable mmcv ({last})"


def wheel_key(facts: TorchFacts, arch_list: str = "") -> wheelhouse.WheelKey:
    tag = "cp" + facts.python.replace(".", "") if facts.python else wheelhouse.python_tag()
    return wheelhouse.WheelKey(MMCV_VERSION, tag, facts.torch,
                               facts.cuda or "cpu", arch_list if facts.cuda else "")


def arch_list_for(facts: TorchFacts) -> str:
    from envcheck.compat import torch_cuda_arch_list

    return torch_cuda_arch_list(list(facts.capabilities)) if facts.cuda and facts.capabilities else ""


def search_roots(extra: list[Path] | None = None) -> list[Path]:
    from mapsage.kaggle import env as kaggle_env

    roots = [wheelhouse.default_root(), *(extra or [])]
    if kaggle_env.input_dir().is_dir():
        roots.append(kaggle_env.input_dir())  # wheelhouse data sets attached to a Kaggle notebook
    return roots


def source_build_step(facts: TorchFacts, arch_list: str, jobs: int, out_dir: Path,
                      python: str | None = None) -> Step:
    env = {"MMCV_WITH_OPS": "1", "MAX_JOBS": str(jobs)}
    if facts.cuda:
        env["FORCE_CUDA"] = "1"
        if arch_list:
            env["TORCH_CUDA_ARCH_LIST"] = arch_list
    command = [_python(python), "-m", "pip", "wheel", "--no-build-isolation", "--no-deps",
               "--no-binary", "mmcv", "-w", str(out_dir), f"mmcv=={MMCV_VERSION}"]
    what = f"CUDA {facts.cuda}, archs {arch_list or 'all of torch'}" if facts.cuda else "CPU ops"
    return Step("source", f"build mmcv {MMCV_VERSION} from the sdist ({what}, {jobs} jobs)",
                command, env)


def plan(facts: TorchFacts, *, installed: tuple[bool, str], roots: list[Path], jobs: int,
         build_dir: Path, python: str | None = None) -> tuple[list[Step], list[str]]:
    """The steps provisioning would take for these facts, and notes on what was ruled out."""
    notes: list[str] = []
    ok, why = installed
    if ok:
        return [Step("installed", why)], notes
    notes.append(why)
    arch_list = arch_list_for(facts)
    key = wheel_key(facts, arch_list)
    hit, refused = wheelhouse.find(key, roots)
    notes += [f"wheelhouse: refused {line}" for line in refused]
    py = _python(python)
    if hit is not None:
        return [Step("wheelhouse", f"install {hit.wheel} (sha256 verified)",
                     [py, "-m", "pip", "install", "--no-index", "--no-deps", "--force-reinstall",
                      str(hit.wheel)])], notes
    notes.append(f"wheelhouse: no wheel for {key.slug} under {', '.join(map(str, roots))}")
    from envcheck.compat import prebuilt_mmcv_index_url

    url = prebuilt_mmcv_index_url(MMCV_VERSION, facts.torch, facts.cuda, python=facts.python)
    if url:
        return [Step("prebuilt", f"install OpenMMLab's prebuilt wheel from {url}",
                     [py, "-m", "pip", "install", "--no-deps", f"mmcv=={MMCV_VERSION}",
                      "-f", url])], notes
    notes.append(f"prebuilt: OpenMMLab has no mmcv {MMCV_VERSION} wheel for torch {facts.torch}"
                 f" / {'CUDA ' + facts.cuda if facts.cuda else 'CPU'}")
    return [
        Step("source", "make sure setuptools < 82 (mmcv's setup.py imports pkg_resources)",
             [py, "-m", "pip", "install", "setuptools<82", "wheel"]),
        source_build_step(facts, arch_list, jobs, build_dir, python),
    ], notes


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
        if proc.poll() is None:
            log(f"  ... {step.strategy}: {step.description}: {time.perf_counter() - started:.0f}s "
                "elapsed")
    reader.join()
    if proc.returncode != 0:
        raise MapSageError(
            f"{step.description} failed (exit {proc.returncode}) after "
            f"{time.perf_counter() - started:.0f}s:\n  $ {step.shell()}\n" + "\n".join(tail[-15:])
        )
    log(f"  done in {time.perf_counter() - started:.1f}s")


def missing_requirements(requirements: list[str], python: str | None = None) -> list[str]:
    """The ``name==version`` requirements not installed at exactly that version."""
    probe = ("import json, sys, importlib.metadata as md\n"
             "out = {}\n"
             "for name in sys.argv[1:]:\n"
             "    try: out[name] = md.version(name)\n"
             "    except md.PackageNotFoundError: out[name] = None\n"
             "print(json.dumps(out))")
    names = [r.split("==")[0] for r in requirements]
    proc = subprocess.run([_python(python), "-c", probe, *names], capture_output=True, text=True,
                          timeout=60, check=True)
    installed = json.loads(proc.stdout)
    return [r for r in requirements if installed.get(r.split("==")[0]) != r.split("==")[1]]


def dependency_step(requirements: list[str], roots: list[Path], python: str | None = None,
                    offline: bool = False) -> Step:
    """pip install of the pinned OpenMMLab stack; offline from wheelhouse folders when asked."""
    cmd = [_python(python), "-m", "pip", "install", "--quiet"]
    if offline:
        cmd.append("--no-index")
    for root in roots:
        if root.is_dir():
            cmd += ["--find-links", str(root)]
    return Step("deps", f"install {', '.join(requirements)}", cmd + requirements)


def install_dependencies(*, python: str | None = None, roots: list[Path], offline: bool,
                         log=print) -> None:
    from mapsage.provision.requirements import kaggle_requirements

    missing = missing_requirements(kaggle_requirements(), python)
    if not missing:
        log("python dependencies: all pinned versions installed")
        return
    # a wheelhouse data set holds its wheels one folder down; pip's --find-links is not recursive
    wheels = [p for root in roots if root.is_dir() for p in root.glob("**/*.whl")]
    folders = sorted({p.parent for p in wheels})
    have = {p.name.split("-")[0].lower().replace("_", "-") for p in wheels}
    if not offline and all(r.split("==")[0].replace("_", "-") in have for r in missing):
        log("python dependencies: every missing package has a wheel in the wheelhouse; "
            "installing offline")
        offline = True
    run_step(dependency_step(missing, folders, python, offline), log)


def provision(*, python: str | None = None, extra_roots: list[Path] | None = None,
              jobs: int | None = None, allow_build: bool = True, dry_run: bool = False,
              kaggle_owner: str | None = None, log=print) -> str:
    """Make mmcv 2.1.0 with compiled ops importable; return the strategy that did it."""
    started = time.perf_counter()
    facts = probe_torch(python)
    jobs = jobs or os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="mapsage-mmcv-") as tmp:
        steps, notes = plan(facts, installed=installed_mmcv(python), roots=search_roots(extra_roots),
                            jobs=jobs, build_dir=Path(tmp), python=python)
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
            entry = wheelhouse.store(built[0], wheel_key(facts, arch_list_for(facts)),
                                     wheelhouse.default_root(), kaggle_owner)
            log(f"  stored {entry.wheel} (sha256 {entry.sha256[:12]}...)")
            run_step(Step("source", "install the built wheel",
                          [_python(python), "-m", "pip", "install", "--no-index", "--no-deps",
                           "--force-reinstall", str(entry.wheel)]), log)
            from mapsage.kaggle.env import wheel_reuse_hint

            log(wheel_reuse_hint(entry.wheel.parent))
    ok, why = installed_mmcv(python)
    if not ok:
        raise MapSageError(f"mmcv still unusable after '{strategy}': {why}")
    log(f"mmcv ready ({strategy}) in {time.perf_counter() - started:.1f}s")
    return strategy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mapsage.provision",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", help="interpreter whose environment gets mmcv (default: this)")
    parser.add_argument("--wheelhouse", action="append", type=Path, default=[],
                        help="extra folder to search for cached wheels (repeatable)")
    parser.add_argument("--jobs", type=int, help="parallel compile jobs (default: CPU count)")
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
        if args.with_deps:
            install_dependencies(python=args.python, roots=search_roots(args.wheelhouse),
                                 offline=args.offline)
        provision(python=args.python, extra_roots=args.wheelhouse, jobs=args.jobs,
                  allow_build=not args.no_build, dry_run=args.dry_run,
                  kaggle_owner=args.kaggle_owner)
        return 0

    from mapsage.cli import guarded

    return guarded("mapsage provision", run, debug=args.debug)

if __name__ == "__main__":
    sys.exit(main())
