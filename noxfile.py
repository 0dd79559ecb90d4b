"""MapSage's tasks. Run them through ``make`` on a fresh machine, or ``nox -s NAME`` once nox exists.

- ``demo``: set up the environment, synthesise the demo data, run the training notebook with
  papermill, print the metrics;
- ``tests``: set up the environment, run envcheck and pytest;
- ``lint``: ruff;
- ``sync``: fail when a generated notebook differs from its jupytext source;
- ``notebooks``: regenerate the notebooks from their sources;
- ``lock``: re-resolve ``requirements.in`` into ``requirements-lock.txt`` (and the task runner's
  ``requirements-nox.in`` into ``requirements-nox.txt``) with ``uv pip compile --universal``.

Session environments are made and filled by uv (pinned in requirements-nox.txt), or by venv +
pip when uv is not there. ``demo`` and ``tests`` install the lock in steps (docs/setup.md):
torch, whichever build the machine's installer configuration (or TORCH_INDEX_URL) offers for the
locked version, then the rest of the lock, hash-checked, with the packages only torch needs taken
from what that torch build requires. mmcv comes from ``python -m mapsage.provision`` (local wheelhouse, or a one-time
source build). A stamp keeps a reused session environment from reinstalling when nothing changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nox

ROOT = Path(__file__).parent
# The session venvs run without the project installed at first: import the lock reader from the
# checkout (envcheck is standard-library only).
sys.path.insert(0, str(ROOT))
from envcheck import compat, lockfile  # noqa: E402
from mapsage import artefacts  # noqa: E402  (standard library only)

# uv when nox finds it (the uv package in nox's own environment, pinned in requirements-nox.txt),
# else venv + pip
nox.options.default_venv_backend = "uv|venv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["tests"]
nox.options.error_on_missing_interpreters = False  # tests_python: skip a Python not installed

def _pyenv_pythons() -> None:
    """Let ``python3.X`` on PATH run every Python pyenv has installed: pyenv's shims answer only
    for the versions PYENV_VERSION (or the global version) names, and nox, uv and the
    Kaggle-image rehearsal find interpreters by those names. Machines without pyenv: nothing."""
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    if os.environ.get("PYENV_VERSION") or not (root / "versions").is_dir():
        return
    found = sorted((p.name for p in (root / "versions").iterdir()
                    if re.fullmatch(r"3\.\d+\.\d+", p.name)),
                   key=lambda v: tuple(map(int, v.split("."))), reverse=True)
    global_version = (root / "version").read_text().split() if (root / "version").is_file() else []
    os.environ["PYENV_VERSION"] = ":".join(dict.fromkeys([*global_version, *found]))


_pyenv_pythons()


def find_python(version: str) -> str | None:
    """The real path of a working ``python<version>`` on PATH, or None."""
    import shutil

    name = shutil.which(f"python{version}")
    if not name:
        return None
    try:
        out = subprocess.run([name, "-c", "import sys; print(sys.executable)"], check=True,
                             capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out or None


LOCK = ROOT / "requirements-lock.txt"
NOX_LOCK = ROOT / "requirements-nox.txt"
DEMO_WORK_DIR = "runs/demo"
SEPARATE = lockfile.SEPARATE  # torch: installed first, its build is the machine's choice


def _lock_pin(name: str) -> str:
    """``name==version`` from the lock for this interpreter (nox's venvs use the same Python)."""
    return lockfile.read(LOCK).pin(name)


def _fingerprint() -> str:
    """Lock + project metadata + the set of top-level packages (an editable install maps each
    package when it is made, so a new package needs a reinstall) + the torch index asked for."""
    digest = hashlib.sha256(LOCK.read_bytes())
    digest.update(os.environ.get("TORCH_INDEX_URL", "").encode())
    digest.update((ROOT / "pyproject.toml").read_bytes())
    digest.update(" ".join(sorted(p.parent.name for p in ROOT.glob("*/__init__.py"))).encode())
    return digest.hexdigest()


def _uses_uv(session: nox.Session) -> bool:
    return getattr(session.virtualenv, "venv_backend", None) == "uv"


def _pip_config() -> dict[str, list[str]]:
    """pip's find-links, index-url, extra-index-url and constraint settings on this machine, as
    ``pip config list`` reports them from its config files and PIP_* variables, each key taken
    from where pip's install command takes it: a PIP_* variable (even an empty one) over the
    files' [install] section over their [global] one. Without pip, the PIP_* variables alone."""
    wanted = ("find-links", "index-url", "extra-index-url", "constraint")
    try:
        out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], check=True,
                             capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        variables = {key: "PIP_" + key.upper().replace("-", "_") for key in wanted}
        out = "".join(f":env:.{key}='{os.environ[var]}'\n"
                      for key, var in variables.items() if var in os.environ)
    rank = {":env:": 0, "install": 1, "global": 2}
    chosen: dict[str, tuple[int, list[str]]] = {}
    for line in out.splitlines():
        m = re.match(r"^(.*)\.([a-z-]+)='(.*)'$", line.strip())
        if not m or m.group(2) not in wanted or m.group(1) not in rank:
            continue
        key, level = m.group(2), rank[m.group(1)]
        if key not in chosen or level < chosen[key][0]:
            chosen[key] = (level, m.group(3).split())
    return {key: values for key, (_, values) in chosen.items() if values}


def _installer_args(session: nox.Session, hashed: bool = False,
                    index_url: str | None = None) -> list[str]:
    """For uv: the package sources pip is configured with here.

    pip reads its config files and PIP_* variables; uv reads neither. On a machine whose pip is
    set up with local wheel folders (find-links), extra indexes or constraint files, pip and uv
    would otherwise install different builds: ``torch==2.13.0`` takes a local CPU wheel with pip
    and several GB of CUDA torch from PyPI with uv. So the same settings are passed to uv on its
    command line, and, as pip does, every index is searched for the best match. Nothing is
    configured on a plain machine: then both use PyPI. Constraint files are left out of a
    hash-checked install (``hashed``): uv refuses unpinned constraints in --require-hashes mode,
    and the lock's exact pins with hashes leave them nothing to decide. ``index_url`` replaces
    pip's configured index (it is then added by the caller)."""
    if not _uses_uv(session):
        return []
    config = _pip_config()
    args = []
    for url in [] if index_url else config.get("index-url", []):
        args += ["--index-url", url]
    for url in config.get("extra-index-url", []):
        args += ["--extra-index-url", url]
    for link in config.get("find-links", []):
        args += ["--find-links", link]
    for path in [] if hashed else config.get("constraint", []):
        args += ["--constraint", path]
    if config.get("extra-index-url") or config.get("index-url") or index_url:
        args += ["--index-strategy", "unsafe-best-match"]
    return args


def _torch_args(session: nox.Session) -> list[str]:
    """Where torch comes from: the installer's configuration, or TORCH_INDEX_URL (e.g. PyTorch's
    https://download.pytorch.org/whl/cpu for a CPU-only build on Linux)."""
    url = os.environ.get("TORCH_INDEX_URL")
    return _installer_args(session, index_url=url) + (["--index-url", url] if url else [])


def install_lock(session: nox.Session) -> None:
    """requirements-lock.txt in three steps (docs/setup.md, "How make installs the lock").

    1. torch at the locked version, without its dependencies and without a hash check: the
       installer's configuration (or TORCH_INDEX_URL) picks the build: here a local CPU wheel;
       elsewhere PyPI's (CUDA on Linux, CPU on macOS) or the one PyTorch's index serves.
    2. The rest of the lock, hash-checked (``--require-hashes``): every entry whose markers hold
       for this venv, where the packages the lock has only for torch (PyPI's CUDA runtime) are
       the ones the installed torch build requires.
    3. torch again with its dependencies, the lock as constraints: a no-op, unless the torch
       build needs packages the lock cannot know (a cu126 build from PyTorch's index, say).
    """
    started = time.perf_counter()
    lock = lockfile.read(LOCK)
    for name in SEPARATE:
        session.install("--no-deps", lock.pin(name), *_torch_args(session))
    # the venv's marker environment and what the torch build just installed requires
    out = session.run("python", "-c", "from envcheck.lockfile import main; main()", "requires",
                      *SEPARATE, silent=True, env={"PYTHONPATH": str(ROOT)})
    facts = json.loads(str(out).strip().splitlines()[-1])
    entries = lockfile.install_entries(lock, facts["environment"], facts["requires"])
    venv = Path(session.virtualenv.location)
    selected = venv / "mapsage-lock-selected.txt"
    selected.write_text(f"# {LOCK.name}: the entries for this venv, without "
                        f"{', '.join(SEPARATE)} (installed first)\n"
                        + "\n".join(e.text for e in entries) + "\n")
    session.install("--require-hashes", "-r", str(selected), *_installer_args(session, True))
    constraints = venv / "mapsage-lock-constraints.txt"
    constraints.write_text("".join(f"{name}=={version}\n" for name, version in
                                   lock.pins(facts["environment"]).items()))
    for name in SEPARATE:
        session.install(lock.pin(name), "-c", str(constraints), *_torch_args(session))
    session.log(f"lock installed in {time.perf_counter() - started:.1f} s "
                f"({'uv' if _uses_uv(session) else 'pip'}, {len(entries) + len(SEPARATE)} packages)")


def install_stack(session: nox.Session) -> None:
    """The locked environment + this project (editable) + mmcv with compiled ops."""
    stamp = Path(session.virtualenv.location) / ".mapsage-installed"
    if stamp.is_file() and stamp.read_text() == _fingerprint():
        session.log("environment matches requirements-lock.txt; skipping install")
    else:
        install_lock(session)
        # setuptools and wheel are in the lock: no isolated build environment to download
        session.install("--no-deps", "--no-build-isolation", "-e", ".")
        stamp.write_text(_fingerprint())
    session.run("python", "-m", "mapsage.provision")


@nox.session
def demo(session: nox.Session) -> None:
    """Train the tiny SegFormer on synthetic LoveDA data through the notebook; print mIoU."""
    install_stack(session)
    session.run("python", "-m", "mapsage", "synth", "data/synthetic-loveda")
    work_dir = ROOT / DEMO_WORK_DIR
    if work_dir.exists():
        session.log(f"removing the previous demo run in {DEMO_WORK_DIR}")
        import shutil

        shutil.rmtree(work_dir)
    session.run("python", "-m", "mapsage", "run",
                "-p", "data_root", "data/synthetic-loveda", "-p", "work_dir", DEMO_WORK_DIR,
                *session.posargs)
    metrics = json.loads((work_dir / artefacts.METRICS).read_text())
    session.log(f"demo finished: mIoU {metrics['mIoU']:.2f} "
                f"(from {DEMO_WORK_DIR}/{artefacts.METRICS})")


@nox.session
def tests(session: nox.Session) -> None:
    """Preflight the environment, then the test suite (pytest args after --)."""
    install_stack(session)
    # session.env holds only what the session set: CI comes from the caller's environment
    ci = os.environ.get("CI", "").lower() in ("true", "1", "yes")
    session.run("python", "-m", "envcheck", "--profile", "ci" if ci else "local")
    session.run("python", "-m", "pytest", *(session.posargs or ["-q"]), env=_rehearsal_env())


def _rehearsal_env() -> dict[str, str]:
    """What the Kaggle-image rehearsal needs from the task runner: the image's Python
    (kaggle/gpu-image.json) and uv (its environments are made with it)."""
    image = json.loads((ROOT / "kaggle" / "gpu-image.json").read_text())
    env = {"UV": os.environ.get("UV") or nox.virtualenv.UV}
    python = find_python(image["python"])
    if python:
        env["MAPSAGE_IMAGE_PYTHON"] = python
    return env


@nox.session(name="kaggle_rehearsal")
def kaggle_rehearsal(session: nox.Session) -> None:
    """The Kaggle-image rehearsal alone (it is part of `tests` too): bootstrap notebook, then
    training notebook in a fresh image venv, offline from the bootstrap's output."""
    install_stack(session)
    session.run("python", "-m", "pytest", "-q", "-s", "tests/e2e/test_kaggle_image_rehearsal.py",
                *session.posargs, env=_rehearsal_env())


# every Python the lock claims, except the one running nox (it gets the whole suite) and those
# mmcv 2.1.0's sdist cannot be built on (envcheck.compat.MMCV_SDIST_MAX_PYTHON: 3.13, PEP 667)
OTHER_PYTHONS = [v for v in lockfile.PYTHONS
                 if v != f"{sys.version_info[0]}.{sys.version_info[1]}"
                 and tuple(map(int, v.split("."))) <= compat.MMCV_SDIST_MAX_PYTHON]
ON_EVERY_PYTHON = ("tests/unit",  # every unit test is fast (tests/conftest.py holds the rule)
                   "tests/e2e/test_notebook_e2e.py::test_notebook_trains_well_above_the_untrained_baseline")
"""No ``-m "not slow"`` here: it would drop the notebook run, which is slow (it did, until a test
collected these arguments: tests/e2e/test_every_python_selection.py)."""


@nox.session(name="tests_python", python=OTHER_PYTHONS)
def tests_python(session: nox.Session) -> None:
    """The fast unit tests and one notebook end-to-end run on each other Python the lock supports
    (the interpreter running nox gets the whole suite, `tests`). A Python this machine does not
    have is skipped (nox.options.error_on_missing_interpreters is off)."""
    install_stack(session)
    session.run("python", "-m", "pytest", "-q", *(session.posargs or ON_EVERY_PYTHON))


@nox.session
def lint(session: nox.Session) -> None:
    session.install(_lock_pin("ruff"), *_installer_args(session))
    session.run("ruff", "check", ".")


@nox.session
def sync(session: nox.Session) -> None:
    """Fail when a committed .ipynb differs from what its .py source generates."""
    session.install(_lock_pin("jupytext"), _lock_pin("nbformat"), _lock_pin("pyyaml"),
                    *_installer_args(session))
    session.install("--no-deps", "-e", ".")
    session.run("python", "-m", "mapsage", "notebook", "check")


@nox.session
def notebooks(session: nox.Session) -> None:
    """Regenerate every notebook from its jupytext source."""
    session.install(_lock_pin("jupytext"), _lock_pin("nbformat"), _lock_pin("pyyaml"),
                    *_installer_args(session))
    session.install("--no-deps", "-e", ".")
    session.run("python", "-m", "mapsage", "notebook", "build")


UV_COMPILE = ["pip", "compile", "--universal", "--generate-hashes", "--emit-index-annotation",
              "--no-header", "--no-config", "--quiet", "--index-url", lockfile.PYPI]


def _compile(session: nox.Session, inputs: list[str], output: Path, about: str,
             digest: str | None = None) -> None:
    """One universal resolution of ``inputs`` from PyPI alone, with hashes, into ``output``; the
    existing ``output`` is the preference (only what must change changes; ``nox -s lock --
    --upgrade`` re-resolves everything)."""
    uv = os.environ.get("UV") or nox.virtualenv.UV  # the pinned uv from nox's environment
    python = lockfile.PYTHONS[0]
    # the resolution must see PyPI only: no uv settings from the caller's environment
    env = {k: None for k in os.environ if k.startswith("UV_")}
    session.run(uv, *UV_COMPILE, "--python-version", python, *session.posargs,
                *inputs, "-o", str(output), external=True, env=env)
    header = [
        "# This file was autogenerated by uv via the following command:",
        "#    make lock",
        f"# ({uv.rsplit('/', 1)[-1]} {' '.join(UV_COMPILE)} --python-version {python} "
        f"{' '.join(inputs)} -o {output.name})",
        f"# {about}",
        f"# index: {lockfile.PYPI}",
    ]
    if digest:
        header.append(f"# {lockfile.DIGEST_KEY}: {digest} (requirements.in, pyproject.toml "
                      "dependencies)")
    output.write_text("\n".join(header) + "\n" + output.read_text())


@nox.session(venv_backend="none")
def lock(session: nox.Session) -> None:
    """Re-resolve requirements.in + pyproject.toml (and requirements-nox.in) with uv: one
    universal, hashed resolution from PyPI for every supported Python and platform."""
    _compile(session, ["requirements.in", "pyproject.toml"], LOCK,
             "One resolution for Python >= 3.10 on Linux and macOS (markers select per target); "
             "torch's build is chosen at install time, see docs/setup.md.",
             digest=lockfile.input_digest(ROOT))
    problems = lockfile.check_lock(lockfile.read(LOCK), ROOT)
    if problems:
        session.error("the new lock is not installable from PyPI alone:\n  "
                      + "\n  ".join(problems))
    _compile(session, ["requirements-nox.in"], NOX_LOCK,
             "The task runner (nox, and uv as its installer), for Python >= 3.10.")
    problems = lockfile.check_lock(lockfile.read(NOX_LOCK), ROOT,
                                   requirements="requirements-nox.in", digest=False)
    if problems:
        session.error(f"{NOX_LOCK.name} is not installable from PyPI alone:\n  "
                      + "\n  ".join(problems))


@nox.session
def bench(session: nox.Session) -> None:
    """All benchmarks (flags after --, e.g. --quick, --repeat 5); each appends to bench/RESULTS.md.
    bench_setup.py's cold variant (a ~9 minute mmcv build) runs only when called with --cold."""
    install_stack(session)
    shared = [arg for arg in session.posargs if arg != "--cold"]
    for script in ("bench_preflight", "bench_setup", "bench_data_pipeline", "bench_train_speed",
                   "bench_notebook_overhead", "bench_startup"):
        session.run("python", f"bench/{script}.py",
                    *(session.posargs if script == "bench_setup" else shared))


# Off-GPU CUDA build rehearsal (issue 13): deliberately not in nox.options.sessions or CI.
CUDA_REHEARSAL_TORCH = "torch==2.14.1"  # the CUDA 13.0 build PyPI serves for Linux
CUDA_REHEARSAL_TOOLKIT = ("cuda-toolkit[nvcc,cccl,crt,nvvm,cudart,cublas,cusparse,cusolver,cufft,"
                          "curand]==13.0.3")  # the CUDA 13.0.x wheels torch 2.14.1 was built with
MMCV_RUNTIME = ("mmengine", "numpy", "opencv-python", "addict", "yapf", "packaging", "pillow",
                "pyyaml")


@nox.session(name="cuda_rehearsal")
def cuda_rehearsal(session: nox.Session) -> None:
    """Compile mmcv's CUDA ops with MapSage's provisioning, without a GPU: torch 2.14.1 (CUDA 13.0)
    and PyPI's CUDA 13.0 toolkit wheels, TORCH_CUDA_ARCH_LIST=7.5; then import mmcv._ext on the
    CPU. 18 min on 2 idle cores. Args after -- go to bench/bench_cuda_build.py (--jobs, --arch,
    --results FILE). Not Kaggle's torch (2.10, CUDA 12.8): see docs/cuda-build.md."""
    session.install(CUDA_REHEARSAL_TORCH, CUDA_REHEARSAL_TOOLKIT)
    session.install(*(_lock_pin(name) for name in MMCV_RUNTIME))
    session.install("--no-deps", "-e", ".")
    session.run("python", "bench/bench_cuda_build.py", *session.posargs)
