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
from dataclasses import asdict, dataclass
from pathlib import Path

from envcheck import loveda

MANIFEST = "manifest.json"
KAGGLE_METADATA = "dataset-metadata.json"


def default_root() -> Path:
    """MAPSAGE_WHEELHOUSE, else /kaggle/working/mapsage-wheelhouse on Kaggle (so a wheel built
    there is among the session's outputs, ready to publish), else ~/.cache/mapsage/wheelhouse."""
    from mapsage.kaggle import env as kaggle_env

    env = os.environ.get("MAPSAGE_WHEELHOUSE")
    if env:
        return Path(env).expanduser()
    if kaggle_env.on_kaggle():
        return kaggle_env.working_dir() / "mapsage-wheelhouse"
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
    arch_list: str = ""  # TORCH_CUDA_ARCH_LIST the ops were built for; "" on CPU

    @property
    def slug(self) -> str:
        torch = re.sub(r"[^0-9A-Za-z.]+", "_", self.torch)
        arch = "-sm" + self.arch_list.replace(".", "").replace(";", "_") if self.arch_list else ""
        cuda = "cpu" if self.cuda == "cpu" else "cu" + self.cuda.replace(".", "")
        return f"mmcv{self.mmcv}-{self.python_tag}-torch{torch}-{cuda}{arch}"

    def mismatch(self, other: WheelKey) -> list[str]:
        """Why a wheel built for ``other`` cannot serve this key (empty when it can)."""
        reasons = []
        for name in ("mmcv", "python_tag", "torch", "cuda"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                reasons.append(f"{name} {theirs} (need {mine})")
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


def read_entry(folder: Path) -> CachedWheel | None:
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return None
    data = json.loads(manifest.read_text())
    key = WheelKey(**{k: data.get(k, "") for k in WheelKey.__dataclass_fields__})
    return CachedWheel(folder / data["wheel"], key, data["sha256"])


def entries(roots: list[Path]) -> list[CachedWheel]:
    """Every cached wheel under the roots (a root may be a wheelhouse or an attached data set)."""
    found = []
    for root in roots:
        if not root.is_dir():
            continue
        for manifest in loveda.files_named(root, MANIFEST):
            entry = read_entry(manifest.parent)
            if entry is not None:
                found.append(entry)
    return found


def find(key: WheelKey, roots: list[Path]) -> tuple[CachedWheel | None, list[str]]:
    """The matching wheel (verified against its sha256), and why each other wheel was refused."""
    refused = []
    for entry in entries(roots):
        reasons = key.mismatch(entry.key)
        if not reasons and not entry.wheel.is_file():
            reasons = [f"manifest names {entry.wheel.name}, which is missing"]
        if not reasons and sha256(entry.wheel) != entry.sha256:
            reasons = ["sha256 differs from its manifest (corrupt or replaced file)"]
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
    folder = root / key.slug
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / wheel.name
    tmp = folder / (wheel.name + ".partial")
    shutil.copyfile(wheel, tmp)
    tmp.replace(target)
    digest = sha256(target)
    manifest = {**asdict(key), "wheel": target.name, "sha256": digest}
    if build is not None:
        manifest["build"] = build
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    slug = key.slug.lower().replace(".", "-").replace("_", "-")[:50].strip("-")
    (folder / KAGGLE_METADATA).write_text(json.dumps({
        "title": f"mmcv {key.mmcv} wheel {key.python_tag} torch {key.torch}"[:50],
        "id": f"{kaggle_owner or 'YOUR_KAGGLE_USERNAME'}/{slug}",
        "licenses": [{"name": "apache-2.0"}],
    }, indent=2) + "\n")
    return CachedWheel(target, key, digest)
