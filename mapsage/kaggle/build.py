"""``mapsage build kaggle``: turn a kernel definition in ``kaggle/`` into a pushable folder.

``build/kaggle/<slug>/`` gets

- ``kernel-metadata.json``, checked with the rules the official client applies in
  ``kaggle kernels push`` before anything is sent (title length, slug of the title, source
  string forms, booleans, language, kernel type, pinning type). The client does these checks
  inline in its push method, so they cannot be called without pushing; the source-string checks
  reuse the client's own validators and ``slugify`` (the same package the client uses);
- ``<slug>.ipynb``: the generated training notebook with the Kaggle parameters injected by
  papermill's own prepare-only run (the same injection as a local run), a ``python3``
  kernelspec, and two cells in front: one unpacks the project code carried inside the notebook
  (checked against its sha256), one provisions mmcv and the pinned OpenMMLab stack.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import zipfile
from pathlib import Path

import nbformat
import papermill
import yaml

from mapsage import paths
from mapsage.errors import MapSageError, MetadataError
from mapsage.kaggle.secrets import BUNDLE_TAG, check_files, shipped_files
from mapsage.params import validate
from mapsage.paths import PROJECT_ROOT

ROOT = PROJECT_ROOT
BUILD_DIR = paths.BUILD_DIR / "kaggle"
BUNDLE_PACKAGES = ("mapsage", "envcheck")
BUNDLE_FILES = ("requirements-lock.txt",)
VALID_LANGUAGES = ("python", "r", "rmarkdown")
VALID_KERNEL_TYPES = ("script", "notebook")
VALID_PINNING = ("original", "latest")
BOOLEAN_FIELDS = ("is_private", "enable_gpu", "enable_tpu", "enable_internet")


def slug_of(title: str) -> str:
    from slugify import slugify  # python-slugify, as the Kaggle client uses

    return slugify(title)


def kaggle_username() -> str | None:
    """The user name from KAGGLE_USERNAME or ~/.kaggle/kaggle.json (never the key)."""
    if os.environ.get("KAGGLE_USERNAME"):
        return os.environ["KAGGLE_USERNAME"]
    config_dir = Path(os.environ.get("KAGGLE_CONFIG_DIR") or Path.home() / ".kaggle")
    path = config_dir / "kaggle.json"
    if path.is_file():
        return json.loads(path.read_text()).get("username")
    return None


def validate_metadata(meta: dict, folder: Path | None = None) -> list[str]:
    """Every reason ``kaggle kernels push`` would refuse this metadata (empty when it is fine)."""
    with contextlib.redirect_stdout(io.StringIO()):  # the client's import prints an auth notice
        from kaggle.api.kaggle_api_extended import KaggleApi

    client = KaggleApi()  # only its validators are used: no credentials, no network
    problems = []
    title = meta.get("title")
    if not title or len(title) < 5:
        problems.append(f"title {title!r} must be at least five characters")
    code_file = meta.get("code_file")
    if not code_file:
        problems.append("code_file is missing: a source file must be specified")
    elif folder is not None and not (folder / code_file).is_file():
        problems.append(f"code_file {code_file!r} does not exist in {folder}")
    kernel_id = meta.get("id")
    if not kernel_id:
        problems.append("id ('owner/slug') is missing")
    else:
        try:
            owner, slug, version = client.parse_kernel_string(kernel_id)
        except ValueError as exc:
            problems.append(f"id {kernel_id!r}: {exc}")
        else:
            if version:
                problems.append(f"id {kernel_id!r} must not contain a version")
            if title and slug.lower() != slug_of(title):
                problems.append(f"id slug {slug!r} does not match the title's slug "
                                f"{slug_of(title)!r}: Kaggle derives the slug from the title")
    if meta.get("language") not in VALID_LANGUAGES:
        problems.append(f"language {meta.get('language')!r} must be one of {VALID_LANGUAGES}")
    if meta.get("kernel_type") not in VALID_KERNEL_TYPES:
        problems.append(f"kernel_type {meta.get('kernel_type')!r} must be one of "
                        f"{VALID_KERNEL_TYPES}")
    for field, check in (("dataset_sources", client.validate_dataset_string),
                         ("kernel_sources", client.validate_kernel_string),
                         ("model_sources", client.validate_model_instance_version_string)):
        for source in meta.get(field, []):
            try:
                check(source)
            except ValueError as exc:
                problems.append(f"{field} entry {source!r}: {exc}")
    pinning = meta.get("docker_image_pinning_type")
    if pinning is not None and pinning not in VALID_PINNING:
        problems.append(f"docker_image_pinning_type {pinning!r} must be one of {VALID_PINNING}")
    for field in BOOLEAN_FIELDS:
        if field in meta:
            try:
                client.get_bool(meta, field, False)
            except (ValueError, TypeError):
                problems.append(f"{field} = {meta[field]!r} is not a boolean (true/false)")
    return problems


def bundle_files(root: Path | None = None) -> list[Path]:
    """The files the notebook carries: git-tracked files of the bundled packages (outside a
    checkout, allowlisted suffixes only), never a symlink (:mod:`mapsage.kaggle.secrets`)."""
    return shipped_files(root or ROOT, (*BUNDLE_PACKAGES, *BUNDLE_FILES))


def make_bundle(root: Path | None = None) -> bytes:
    """A deterministic zip of the project code the notebook needs, refused if any file in it
    holds a credential (checked before anything is written)."""
    root = root or ROOT
    contents = [(str(path.relative_to(root)), path.read_bytes()) for path in bundle_files(root)]
    check_files(contents)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in contents:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


UNPACK_CELL = '''\
# MapSage bundle: the project code this notebook runs (mapsage, envcheck, configs, the lock),
# carried inside the notebook so nothing is uploaded by hand. Built by `mapsage build kaggle`.
import base64, hashlib, io, os, sys, zipfile
_BUNDLE_SHA256 = "{sha256}"
_bundle = base64.b64decode("{payload}")
if hashlib.sha256(_bundle).hexdigest() != _BUNDLE_SHA256:
    raise RuntimeError("The MapSage bundle in this notebook is corrupt (sha256 mismatch): "
                       "rebuild it with `mapsage build kaggle` and push again.")
_src = os.path.join("/tmp", "mapsage-src-" + _BUNDLE_SHA256[:12])
zipfile.ZipFile(io.BytesIO(_bundle)).extractall(_src)
sys.path.insert(0, _src)
os.environ["PYTHONPATH"] = _src + os.pathsep + os.environ.get("PYTHONPATH", "")
print(f"MapSage code {{_BUNDLE_SHA256[:12]}} unpacked to {{_src}}")
'''

PROVISION_CELL = '''\
# mmcv 2.1.0 with compiled ops and the pinned OpenMMLab stack: from an attached wheelhouse data
# set when one fits (offline, seconds), else built once for this GPU (see the printed command
# that publishes the built wheel as a data set for the next run).
import subprocess, sys
subprocess.run([sys.executable, "-m", "mapsage.provision", "--with-deps"], check=True)
'''


def _tagged_code_cell(source: str, tag: str, index: int) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [tag]})
    cell["id"] = f"mapsage-{tag}-{index}"
    return cell


def load_definition(kernel_dir: Path) -> tuple[dict, dict]:
    spec_path = kernel_dir / "kernel.json"
    if not spec_path.is_file():
        raise MapSageError(f"{spec_path} is missing: a kernel definition needs kernel.json.")
    spec = json.loads(spec_path.read_text())
    params_path = kernel_dir / spec.get("parameters", "params.yaml")
    params = yaml.safe_load(params_path.read_text()) if params_path.is_file() else {}
    validate(params)  # a wrong Kaggle parameter fails the build, not a GPU session
    return spec, params or {}


def build(kernel_dir: Path, owner: str | None = None, out_dir: Path = BUILD_DIR,
          parameters: dict | None = None) -> Path:
    kernel_dir = Path(kernel_dir)
    spec, params = load_definition(kernel_dir)
    params.update(parameters or {})
    validate(params)
    owner = owner or kaggle_username()
    if not owner:
        raise MapSageError(
            "No Kaggle user name: pass --owner NAME, set KAGGLE_USERNAME, or put your API token in "
            "~/.kaggle/kaggle.json (Kaggle > Settings > API > Create New Token)."
        )
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", owner):
        raise MetadataError(f"owner {owner!r} is not a Kaggle user name")
    payload = make_bundle()  # refuses credentials before anything is written
    slug = slug_of(spec["title"])
    target = Path(out_dir) / slug
    target.mkdir(parents=True, exist_ok=True)
    code_file = f"{slug}.ipynb"

    source_nb = ROOT / spec["notebook"]
    if not source_nb.is_file():
        raise MapSageError(f"notebook {source_nb} named in {kernel_dir / 'kernel.json'} is missing")
    prepared = target / code_file
    papermill.execute_notebook(str(source_nb), str(prepared), parameters=params,
                               prepare_only=True, kernel_name="python3", language="python",
                               progress_bar=False)
    nb = nbformat.read(prepared, as_version=4)
    sha256 = hashlib.sha256(payload).hexdigest()
    unpack = UNPACK_CELL.format(sha256=sha256, payload=base64.b64encode(payload).decode())
    nb.cells[:0] = [_tagged_code_cell(unpack, BUNDLE_TAG, 0),
                    _tagged_code_cell(PROVISION_CELL, "mapsage-provision", 1)]
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python",
                                 "name": "python3"}
    nb.metadata.setdefault("language_info", {"name": "python"})
    nb.metadata["mapsage"] = {"bundle_sha256": sha256, "kernel_definition": kernel_dir.name}
    nbformat.validate(nb)
    nbformat.write(nb, prepared)

    meta = {k: v for k, v in spec.items() if k not in ("notebook", "parameters")}
    meta = json.loads(json.dumps(meta).replace("{owner}", owner))
    meta.update(id=f"{owner}/{slug}", code_file=code_file)
    problems = validate_metadata(meta, target)
    if problems:
        raise MetadataError("kernel-metadata.json would be refused by `kaggle kernels push`:\n"
                            + "\n".join(f"  - {p}" for p in problems))
    (target / "kernel-metadata.json").write_text(json.dumps(meta, indent=2) + "\n")
    return target
