"""MapSage's tasks. Run them through ``make`` on a fresh machine, or ``nox -s NAME`` once nox exists.

- ``demo``: set up the environment, synthesise the demo data, run the training notebook with
  papermill, print the metrics;
- ``tests``: set up the environment, run envcheck and pytest;
- ``lint``: ruff;
- ``sync``: fail when a generated notebook differs from its jupytext source;
- ``notebooks``: regenerate the notebooks from their sources;
- ``lock``: re-resolve ``requirements.in`` into ``requirements-lock.txt`` with pip-tools.

The environment of ``demo`` and ``tests`` is installed from the lock; mmcv comes from
``python -m mapsage.provision`` (local wheelhouse, or a one-time source build). A stamp keeps a
reused session environment from reinstalling when nothing changed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["tests"]

ROOT = Path(__file__).parent
LOCK = ROOT / "requirements-lock.txt"
DEMO_WORK_DIR = "runs/demo"
PIP_COMPILE = ["pip-compile", "--quiet", "--strip-extras", "--allow-unsafe",
               "--no-emit-find-links", "--no-emit-index-url"]


def _lock_pin(name: str) -> str:
    for line in LOCK.read_text().splitlines():
        if line.lower().startswith(name.lower() + "=="):
            return line.strip()
    raise RuntimeError(f"{name} is not pinned in {LOCK.name}")


def _fingerprint() -> str:
    """Lock + project metadata + the set of top-level packages (an editable install maps each
    package when it is made, so a new package needs a reinstall)."""
    digest = hashlib.sha256(LOCK.read_bytes())
    digest.update((ROOT / "pyproject.toml").read_bytes())
    digest.update(" ".join(sorted(p.parent.name for p in ROOT.glob("*/__init__.py"))).encode())
    return digest.hexdigest()


def install_stack(session: nox.Session) -> None:
    """The locked environment + this project (editable) + mmcv with compiled ops."""
    stamp = Path(session.virtualenv.location) / ".mapsage-installed"
    if stamp.is_file() and stamp.read_text() == _fingerprint():
        session.log("environment matches requirements-lock.txt; skipping install")
    else:
        session.install("-r", str(LOCK))
        session.install("--no-deps", "-e", ".")
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
    metrics = json.loads((work_dir / "metrics.json").read_text())
    session.log(f"demo finished: mIoU {metrics['mIoU']:.2f} (from {DEMO_WORK_DIR}/metrics.json)")


@nox.session
def tests(session: nox.Session) -> None:
    """Preflight the environment, then the test suite (pytest args after --)."""
    install_stack(session)
    session.run("python", "-m", "envcheck", "--profile", "ci" if session.env.get("CI") else "local")
    session.run("python", "-m", "pytest", *(session.posargs or ["-q"]))


@nox.session
def lint(session: nox.Session) -> None:
    session.install(_lock_pin("ruff"))
    session.run("ruff", "check", ".")


@nox.session
def sync(session: nox.Session) -> None:
    """Fail when a committed .ipynb differs from what its .py source generates."""
    session.install(_lock_pin("jupytext"), _lock_pin("nbformat"), _lock_pin("pyyaml"))
    session.install("--no-deps", "-e", ".")
    session.run("python", "-m", "mapsage", "notebook", "check")


@nox.session
def notebooks(session: nox.Session) -> None:
    """Regenerate every notebook from its jupytext source."""
    session.install(_lock_pin("jupytext"), _lock_pin("nbformat"), _lock_pin("pyyaml"))
    session.install("--no-deps", "-e", ".")
    session.run("python", "-m", "mapsage", "notebook", "build")


@nox.session
def lock(session: nox.Session) -> None:
    """Re-resolve requirements.in (and the task runner's requirements-nox.in) with pip-tools."""
    session.install("pip-tools")
    session.run(*PIP_COMPILE, "--output-file", "requirements-lock.txt", "requirements.in")
    session.run(*PIP_COMPILE, "--output-file", "requirements-nox.txt", "requirements-nox.in")


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
