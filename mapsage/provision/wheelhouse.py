"""A local cache of built mmcv wheels, keyed by what the compiled ops depend on.

A wheel's file name (``mmcv-2.1.0-cp311-cp311-linux_x86_64.whl``) says nothing about the torch
and CUDA its ops were compiled against, and a wheel built for another torch fails at import with
undefined symbols. So each wheel sits in its own folder with ``manifest.json`` recording mmcv,
Python tag, torch, CUDA, CUDA architectures and the wheel's sha256; a lookup matches all of them.
The same folder is a valid Kaggle data set (``dataset-metadata.json``), so a wheel built once on
Kaggle can be attached to later runs and installed offline. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from envcheck import fatbin, walk
from envcheck.compat import arch_runs_on
from envcheck.kaggle import VOUCHED_WHEELS_ENV
from mapsage import safe_write
from mapsage.errors import MapSageError

MANIFEST = "manifest.json"
KAGGLE_METADATA = "dataset-metadata.json"


def default_root() -> Path:
    """MAPSAGE_WHEELHOUSE, else /kaggle/working/mapsage-wheelhouse on Kaggle (so a wheel built
    there is among the session's outputs, ready to publish), else ~/.cache/mapsage/wheelhouse."""
    from mapsage import kaggle_platform

    env = os.environ.get("MAPSAGE_WHEELHOUSE")
    if env:
        return Path(env).expanduser()
    if kaggle_platform.on_kaggle():
        return kaggle_platform.working_dir() / "mapsage-wheelhouse"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "mapsage" / "wheelhouse"


def python_tag() -> str:
    return f"cp{sys.version_info.major}{sys.version_info.minor}"


@dataclass(frozen=True)
class WheelKey:
    mmcv: str
    python_tag: str
    torch: str  # e.g. "2.13.0+cpu"
    cuda: str  # "cpu" or the CUDA version torch was built with, e.g. "12.1"
    arch_list: str = ""  # TORCH_CUDA_ARCH_LIST the ops were built for; "" for CPU ops
    ops: str = ""  # "cpu" | "cuda": what the compiled ops are; "" = cuda's kind (old manifests)

    def __post_init__(self) -> None:
        if not self.ops:
            object.__setattr__(self, "ops", "cpu" if self.cuda == "cpu" else "cuda")

    @property
    def slug(self) -> str:
        torch = re.sub(r"[^0-9A-Za-z.]+", "_", self.torch)
        arch = "-sm" + self.arch_list.replace(".", "").replace(";", "_") if self.arch_list else ""
        cuda = "cpu" if self.cuda == "cpu" else "cu" + self.cuda.replace(".", "")
        ops = "-cpu-ops" if self.ops == "cpu" and self.cuda != "cpu" else ""
        return f"mmcv{self.mmcv}-{self.python_tag}-torch{torch}-{cuda}{arch}{ops}"

    def mismatch(self, other: WheelKey) -> list[str]:
        """Why a wheel built for ``other`` cannot serve this key (empty when it can)."""
        reasons = []
        for name in ("mmcv", "python_tag", "torch", "cuda"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                reasons.append(f"{name} {theirs} (need {mine})")
        if self.ops == "cuda" and other.ops != "cuda":  # CUDA ops carry the CPU ones too
            reasons.append("CPU-only ops (need CUDA ops)")
        if self.arch_list and other.arch_list:
            missing = set(self.arch_list.split(";")) - set(other.arch_list.split(";"))
            if missing:
                reasons.append(f"built for CUDA archs {other.arch_list} (need {self.arch_list})")
        return reasons


@dataclass(frozen=True)
class CachedWheel:
    wheel: Path
    key: WheelKey
    sha256: str


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class BadManifest(ValueError):
    """A ``manifest.json`` that is not a MapSage wheelhouse entry (skipped, and named)."""


_KEY_FIELDS = tuple(WheelKey.__dataclass_fields__)


def read_entry(folder: Path) -> CachedWheel | None:
    """The entry in ``folder``; None without a manifest; :class:`BadManifest` for a manifest
    that is unreadable, of another shape, or names a wheel outside its own folder."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return None
    try:
        data = json.loads(manifest.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BadManifest(f"{manifest}: not readable JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise BadManifest(f"{manifest}: not a JSON object")
    wheel, digest = data.get("wheel"), data.get("sha256")
    fields = {k: data.get(k, "") for k in _KEY_FIELDS}
    if not all(isinstance(v, str) for v in (wheel, digest, *fields.values())):
        raise BadManifest(f"{manifest}: not a MapSage wheel manifest (wheel, sha256 and the key "
                          f"fields {', '.join(_KEY_FIELDS)} must be strings)")
    if (Path(wheel).name != wheel or wheel in ("", ".", "..") or not wheel.endswith(".whl")
            or not re.fullmatch(r"[0-9a-f]{64}", digest)):
        raise BadManifest(f"{manifest}: wheel {wheel!r} must be a .whl file name in the "
                          "manifest's own folder, with a 64-digit sha256")
    return CachedWheel(folder / wheel, WheelKey(**fields), digest)


def entries(roots: list[Path]) -> tuple[list[CachedWheel], list[str]]:
    """Every cached wheel under the roots (a wheelhouse or a kernel's output), and the manifests
    skipped as not MapSage's."""
    found, skipped = [], []
    for root in roots:
        if not root.is_dir():
            continue
        for manifest in walk.files_named(root, MANIFEST):
            try:
                entry = read_entry(manifest.parent)
            except BadManifest as exc:
                skipped.append(f"{exc} (skipped)")
                continue
            if entry is not None:
                found.append(entry)
    return found, skipped


EXT_PREFIX = "mmcv/_ext"


def compiled_archs(wheel: Path) -> list[str] | None:
    """The CUDA architectures of the wheel's ``mmcv/_ext*.so`` ([] for CPU-only ops; None when
    the wheel has no compiled ops at all), read from the file's ``.nv_fatbin`` headers."""
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if n.startswith(EXT_PREFIX) and n.endswith(".so")]
        if not names:
            return None
        with tempfile.TemporaryDirectory(prefix="mapsage-ext-") as tmp:
            path = Path(tmp) / "ext.so"
            with archive.open(names[0]) as src, open(path, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            return fatbin.cuda_archs(path)


def ops_problems(wheel: Path, key: WheelKey) -> list[str]:
    """How the wheel's compiled ops differ from what ``key`` says (empty when they agree): CUDA
    code for each architecture of a CUDA key, none for a CPU-ops key."""
    try:
        archs = compiled_archs(wheel)
    except (OSError, zipfile.BadZipFile, fatbin.NotAnElf) as exc:
        return [f"its compiled ops cannot be read ({type(exc).__name__}: {exc})"]
    if archs is None:
        return ["it has no compiled ops (no mmcv/_ext*.so)"]
    if key.ops == "cpu":
        return [f"its ops carry CUDA code ({', '.join(archs)}) but the key says CPU ops"] if (
            archs) else []
    if not archs:
        return ["its ops are CPU-only but the key says CUDA ops"]
    wanted = [a.split("+")[0] for a in key.arch_list.split(";") if a]
    gaps = [a for a in wanted
            if not arch_runs_on(archs, tuple(int(x) for x in a.split(".")))]
    return ([f"its ops have no code for compute capability {', '.join(gaps)} (they carry "
             f"{', '.join(archs)})"] if gaps else [])


VOUCHED_ENV = VOUCHED_WHEELS_ENV  # one home: envcheck.kaggle


@dataclass(frozen=True)
class Attached:
    """Folders holding other people's files (``/kaggle/input``): a wheel there is installed only
    when its sha256 was vouched for (:data:`VOUCHED_ENV`); a manifest's own hash vouches for
    nothing, since whoever wrote the wheel wrote the manifest."""

    roots: tuple[Path, ...]
    vouched: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls, roots: list[Path], environ: dict[str, str] | None = None) -> Attached:
        environ = os.environ if environ is None else environ
        words = environ.get(VOUCHED_ENV, "").split()
        bad = [w for w in words if not re.fullmatch(r"[0-9a-f]{64}", w)]
        if bad:
            raise MapSageError(f"{VOUCHED_ENV} holds {bad[0]!r}, which is not a sha256 (64 "
                               "lowercase hex digits): rebuild the notebook with mapsage build "
                               "kaggle")
        return cls(tuple(roots), frozenset(words))

    def refuses(self, entry: CachedWheel) -> str | None:
        if not any(entry.wheel.is_relative_to(root) for root in self.roots):
            return None
        if entry.sha256 in self.vouched:
            return None
        return ("an attached wheel nobody vouched for: its sha256 is not among the wheels this "
                "notebook was built to trust (build it after `mapsage push` of the bootstrap "
                "kernel has downloaded its output, or attach that kernel's output)")


def find(key: WheelKey, roots: list[Path],
         attached: Attached | None = None) -> tuple[CachedWheel | None, list[str]]:
    """The matching wheel, verified against its sha256 and for the compiled ops its key claims,
    and why each other wheel (or manifest) was refused. A wheel under ``attached``'s folders
    must also be vouched for."""
    found, refused = entries(roots)
    for entry in found:
        reasons = key.mismatch(entry.key)
        if not reasons and attached is not None:
            reasons = [r for r in [attached.refuses(entry)] if r]
        if not reasons and not entry.wheel.is_file():
            reasons = [f"manifest names {entry.wheel.name}, which is missing"]
        if not reasons and sha256(entry.wheel) != entry.sha256:
            reasons = ["sha256 differs from its manifest (corrupt or replaced file)"]
        if not reasons:
            reasons = ops_problems(entry.wheel, entry.key)
        if reasons:
            refused.append(f"{entry.wheel}: " + "; ".join(reasons))
        else:
            return entry, refused
    return None, refused


def store(wheel: Path, key: WheelKey, root: Path, kaggle_owner: str | None = None,
          build: dict | None = None) -> CachedWheel:
    """Copy a freshly built wheel into ``root/<key.slug>/`` with its manifest.

    ``build`` goes into the manifest as is: how the wheel was made (the C++ standard and the
    patch of mmcv's setup.py, see :func:`mapsage.provision.mmcv.build_record`).
    """
    problems = ops_problems(wheel, key)
    if problems:
        raise MapSageError(f"{wheel} is not stored as {key.slug}: " + "; ".join(problems)
                           + ". The build did not make what was asked: see its log above.")
    folder = root / key.slug
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / wheel.name
    if wheel.resolve() != target.resolve():  # never written through a link (safe_write)
        with open(wheel, "rb") as src, safe_write.replacing(target) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    digest = sha256(target)
    manifest = {**asdict(key), "wheel": target.name, "sha256": digest}
    if build is not None:
        manifest["build"] = build
    safe_write.write_text(folder / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    slug = key.slug.lower().replace(".", "-").replace("_", "-")[:50].strip("-")
    safe_write.write_text(folder / KAGGLE_METADATA, json.dumps({
        "title": f"mmcv {key.mmcv} wheel {key.python_tag} torch {key.torch}"[:50],
        "id": f"{kaggle_owner or 'YOUR_KAGGLE_USERNAME'}/{slug}",
        "licenses": [{"name": "apache-2.0"}],
    }, indent=2) + "\n")
    return CachedWheel(target, key, digest)
