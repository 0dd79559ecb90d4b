"""The pinned OpenMMLab stack next to an image's own torch (``python -m mapsage.provision
--with-deps``, the Kaggle kernels): exactly what the image lacks, at the lock's versions, every
file checked against the lock's hashes.

1. **closure**: pip resolves the pinned stack (:func:`mapsage.provision.requirements.
   kaggle_requirements`) against what is installed (``pip install --dry-run --report``), the
   lock's versions as constraints for what is missing. The image keeps its own packages
   (numpy, torch, ...); what it lacks (``rich``, ``opencv-python`` on some images, mmengine,
   mmseg, ...) is the closure.
2. **hashes**: each package of the closure must be pinned by the lock at the version pip chose;
   the install is ``--require-hashes`` with the lock's hashes and ``--no-deps`` (pip installs
   exactly the closure). A wheel planted under ``/kaggle/input`` with the right name and another
   content is refused by pip, online or offline.
3. **where from**: online, the closure's wheels are first downloaded into the wheelhouse's
   ``python/`` folder (on Kaggle ``/kaggle/working/mapsage-wheelhouse/python``, so the bootstrap
   kernel's output carries the whole closure for its image) and installed from there; offline,
   from the wheel folders under the search roots (an attached bootstrap output).

pip's resolver does the resolving (there is no other resolver that knows what an image has
installed); the lock, through envcheck's one parser, supplies versions and hashes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from envcheck import walk
from envcheck.lockfile import Lock, canonical, read
from mapsage import safe_write
from mapsage.errors import MapSageError
from mapsage.paths import LOCK_FILE, PROJECT_ROOT
from mapsage.provision.requirements import kaggle_requirements

PYTHON_WHEELS = "python"
"""Sub-folder of the wheelhouse holding the closure's wheels."""
CLOSURE_FILE = "requirements.txt"
"""The closure with the lock's hashes, written next to its wheels (for people: never read back)."""


def _python(python: str | None) -> str:
    return python or sys.executable


def _json_of(python: str | None, code: str, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([_python(python), "-c", code, *args], capture_output=True, text=True,
                          timeout=120, env=env)
    if proc.returncode != 0:
        raise MapSageError(f"{_python(python)} could not report its environment: "
                           + (proc.stderr.strip().splitlines() or ["no output"])[-1])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def environment_of(python: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """(marker environment, installed canonical name -> version) of ``python``'s environment."""
    data = _json_of(python, (
        "import json, importlib.metadata as md\n"
        "from envcheck.lockfile import canonical, default_environment\n"
        "dists = {}\n"
        "for d in md.distributions():\n"
        "    name = d.metadata['Name']\n"
        "    if name: dists.setdefault(canonical(name), d.version)\n"
        "print(json.dumps({'environment': default_environment(), 'installed': dists}))"))
    return data["environment"], data["installed"]


def missing_requirements(requirements: list[str], installed: dict[str, str]) -> list[str]:
    """The ``name==version`` requirements not installed at exactly that version."""
    return [r for r in requirements
            if installed.get(canonical(r.split("==")[0])) != r.split("==")[1]]


def wheels_under(roots: list[Path]) -> list[Path]:
    """Every wheel under the roots, shallowest first: a bootstrap output holds its wheels a
    folder or more down, and pip's ``--find-links`` is not recursive."""
    return [p for root in roots if root.is_dir() for p in walk.files_named(root, "*.whl")]


def _sources(folders: list[Path], offline: bool) -> list[str]:
    args = ["--no-index"] if offline else []
    for folder in folders:
        args += ["--find-links", str(folder)]
    return args


def resolve_closure(missing: list[str], *, lock: Lock, environment: dict[str, str],
                    installed: dict[str, str], folders: list[Path], offline: bool,
                    python: str | None = None) -> list[tuple[str, str]]:
    """(name, version) of everything pip would install for ``missing`` on top of what is
    installed, the lock's versions as constraints for every package not installed."""
    pins = lock.pins(environment)
    with tempfile.TemporaryDirectory(prefix="mapsage-deps-") as tmp:
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text("".join(f"{name}=={version}\n" for name, version in
                                       sorted(pins.items()) if name not in installed))
        report = Path(tmp) / "report.json"
        command = [_python(python), "-m", "pip", "install", "--dry-run", "--quiet",
                   "--report", str(report), "-c", str(constraints),
                   *_sources(folders, offline), *missing]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-6:])
            where = ("the attached wheel folders (" + ", ".join(map(str, folders)) + ")"
                     if offline else "the package index")
            raise MapSageError(
                f"pip cannot resolve {', '.join(missing)} from {where} for this image:\n{tail}\n"
                + ("Attach the bootstrap kernel's output for this image (kernel_sources), or turn "
                   "the internet on." if offline else "Check the network and the lock."))
        items = json.loads(report.read_text()).get("install", [])
    return [(canonical(item["metadata"]["name"]), item["metadata"]["version"])
            for item in items]


def hashed_requirements(closure: list[tuple[str, str]], lock: Lock,
                        environment: dict[str, str]) -> str:
    """The closure as a ``--require-hashes`` requirements file, hashes from the lock only."""
    pins = lock.pins(environment)
    lines, unpinned = [], []
    for name, version in sorted(closure):
        entry = next((e for e in lock.by_name(name)
                      if e.version == version and e.applies(environment)), None)
        if entry is None or pins.get(name) != version or not entry.hashes:
            unpinned.append(f"{name}=={version}"
                            + (f" (the lock pins {pins[name]})" if name in pins else
                               " (not in the lock)"))
            continue
        lines.append(f"{name}=={version} " + " ".join(f"--hash={h}" for h in entry.hashes))
    if unpinned:
        raise MapSageError(
            f"pip resolved packages whose hashes {LOCK_FILE.name} does not hold: "
            f"{', '.join(unpinned)}. Nothing is installed without a hash MapSage holds: this "
            "image's packages ask for other versions than the lock; report it with the image's "
            "date, or re-lock (make lock).")
    return "\n".join(lines) + "\n"


def install_dependencies(*, python: str | None = None, roots: list[Path], offline: bool,
                         keep_dir: Path | None = None, log=print) -> list[str]:
    """Install the pinned stack's closure for this image, hash-checked; return what was
    installed (``name==version``). Online, its wheels are downloaded into ``keep_dir`` first
    (the wheelhouse's ``python/`` folder). Offline when asked, or when the wheel folders under
    ``roots`` already hold the whole closure."""
    from mapsage.provision.mmcv import Step, run_step  # the one step runner, with progress

    lock = read(LOCK_FILE)
    environment, installed = environment_of(python)
    missing = missing_requirements(kaggle_requirements(), installed)
    if not missing:
        log("python dependencies: all pinned versions installed")
        return []
    folders = sorted({p.parent for p in wheels_under(roots)})
    closure = None
    if not offline and folders:
        try:
            closure = resolve_closure(missing, lock=lock, environment=environment,
                                      installed=installed, folders=folders, offline=True,
                                      python=python)
            offline = True
            log(f"python dependencies: the wheel folders under {', '.join(map(str, roots))} hold "
                "the whole closure; installing offline")
        except MapSageError:
            closure = None
    if closure is None:
        closure = resolve_closure(missing, lock=lock, environment=environment,
                                  installed=installed, folders=folders if offline else [],
                                  offline=offline, python=python)
    log(f"python dependencies: {len(closure)} package(s) this image lacks: "
        + ", ".join(f"{n}=={v}" for n, v in closure))
    text = hashed_requirements(closure, lock, environment)
    with tempfile.TemporaryDirectory(prefix="mapsage-deps-") as tmp:
        requirements = Path(tmp) / CLOSURE_FILE
        requirements.write_text(text)
        py = _python(python)
        if not offline and keep_dir is not None:
            keep_dir.mkdir(parents=True, exist_ok=True)
            run_step(Step("deps", f"download {len(closure)} wheel(s) into {keep_dir} "
                          "(hash-checked)",
                          [py, "-m", "pip", "download", "--quiet", "--no-deps",
                           "--only-binary", ":all:", "--require-hashes", "-d", str(keep_dir),
                           "-r", str(requirements)]), log)
            safe_write.write_text(
                keep_dir / CLOSURE_FILE,
                f"# what `python -m mapsage.provision --with-deps` installed on this image, with "
                f"the hashes of {LOCK_FILE.name}\n" + text)
            folders, offline = [keep_dir], True
        run_step(Step("deps", f"install {len(closure)} package(s), hash-checked against the lock",
                      [py, "-m", "pip", "install", "--quiet", "--no-deps", "--require-hashes",
                       *_sources(folders, offline), "-r", str(requirements)]), log)
    return [f"{n}=={v}" for n, v in closure]
